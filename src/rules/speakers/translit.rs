//! Latin spellings of Ukrainian and Russian names that are not in the people registry, so
//! that every speaker is named in one script, as registry people are (their usual English
//! spelling): Ukrainian names by the official Ukrainian transliteration (Cabinet of
//! Ministers resolution 55 of 2010, the passport standard: "Гнатюк" -> "Hnatiuk"), Russian
//! names by the BGN/PCGN-style spelling English-language news uses ("Дорошенко" ->
//! "Doroshenko", "-ский" -> "-sky").
//!
//! Hand-written rather than taken from a crate: the generic transliteration crates map
//! letter by letter without the position rules both standards have (word-initial "Є", "Ю",
//! "Я"; "зг"; Russian "е" after a vowel).

/// The name in Latin letters; `ukrainian` picks the standard for names whose letters fit
/// both languages (a name with a letter only Ukrainian has is Ukrainian, one with a letter
/// only Russian has Russian, whatever the flag says). Characters that are not Cyrillic are
/// kept.
pub fn latin_name(name: &str, ukrainian: bool) -> String {
    let ukrainian = if name.chars().any(only_ukrainian) {
        true
    } else if name.chars().any(only_russian) {
        false
    } else {
        ukrainian
    };
    name.split(' ')
        .map(|word| {
            if ukrainian {
                ukrainian_word(word)
            } else {
                russian_word(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether letters only Ukrainian has outnumber those only Russian has in `text`: the
/// standard for names whose own letters fit both.
pub fn mostly_ukrainian(text: &str) -> bool {
    let mut balance: i64 = 0;
    for c in text.chars() {
        if only_ukrainian(c) {
            balance += 1;
        } else if only_russian(c) {
            balance -= 1;
        }
    }
    balance > 0
}

/// і, ї, є, ґ.
fn only_ukrainian(c: char) -> bool {
    matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ')
}

/// ы, э, ё, ъ.
fn only_russian(c: char) -> bool {
    matches!(c, 'ы' | 'э' | 'ё' | 'ъ' | 'Ы' | 'Э' | 'Ё' | 'Ъ')
}

/// Whether a name has Cyrillic letters.
pub fn is_cyrillic(name: &str) -> bool {
    name.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// Letters both standards spell alike.
fn shared_letter(lower: char) -> Option<&'static str> {
    Some(match lower {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'д' => "d",
        'ж' => "zh",
        'з' => "z",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ь' => "",
        _ => return None,
    })
}

fn ukrainian_word(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    for (i, &c) in chars.iter().enumerate() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        // Word-initial means after the start or a hyphen (double names).
        let initial = i == 0 || chars[i - 1] == '-';
        let previous = if i > 0 {
            chars[i - 1].to_lowercase().next()
        } else {
            None
        };
        let latin = match lower {
            'г' if previous == Some('з') => "gh",
            'г' => "h",
            'ґ' => "g",
            'е' => "e",
            'є' if initial => "ye",
            'є' => "ie",
            'и' => "y",
            'і' => "i",
            'ї' if initial => "yi",
            'ї' => "i",
            'й' if initial => "y",
            'й' => "i",
            'х' => "kh",
            '\'' | '’' | 'ʼ' => "",
            'ю' if initial => "yu",
            'ю' => "iu",
            'я' if initial => "ya",
            'я' => "ia",
            other => match shared_letter(other) {
                Some(latin) => latin,
                None => {
                    out.push(c);
                    continue;
                }
            },
        };
        push_cased(&mut out, latin, c != lower);
    }
    out
}

fn russian_word(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let lower_chars: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let lower_word: String = lower_chars.iter().collect();
    // "-ский", "-цкий" are "-sky", "-tsky" in English-language news; other "-ий" "-iy".
    let sky_ending = lower_word.ends_with("ский") || lower_word.ends_with("цкий");
    let mut out = String::with_capacity(word.len());
    for (i, &c) in chars.iter().enumerate() {
        let lower = lower_chars[i];
        let initial = i == 0 || chars[i - 1] == '-';
        let after_vowel = i > 0 && "аеёиоуыэюяьъ".contains(lower_chars[i - 1]);
        let last_two = i + 2 == chars.len();
        let latin = match lower {
            'и' if sky_ending && last_two => "",
            'г' => "g",
            'е' if initial || after_vowel => "ye",
            'е' => "e",
            'ё' => "yo",
            'и' => "i",
            'й' => "y",
            // "гх" and "кх" occur only in foreign names, for "gh" and "kh" ("Сингх" is
            // Singh, "Буркхард" Burkhard), not "gkh" and "kkh".
            'х' if i > 0 && matches!(lower_chars[i - 1], 'г' | 'к') => "h",
            'х' => "kh",
            'ъ' => "",
            'ы' => "y",
            'э' => "e",
            'ю' => "yu",
            'я' => "ya",
            other => match shared_letter(other) {
                Some(latin) => latin,
                None => {
                    out.push(c);
                    continue;
                }
            },
        };
        push_cased(&mut out, latin, c != lower);
    }
    out
}

/// Appends `latin`, its first letter in upper case when the Cyrillic letter was.
fn push_cased(out: &mut String, latin: &str, upper: bool) {
    let mut letters = latin.chars();
    if upper && let Some(first) = letters.next() {
        out.extend(first.to_uppercase());
        out.push_str(letters.as_str());
    } else {
        out.push_str(latin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ukrainian_names_follow_the_official_transliteration() {
        // Examples of the 2010 resolution's table and usual passport spellings.
        assert_eq!(latin_name("Тарас Гнатюк", true), "Taras Hnatiuk");
        assert_eq!(latin_name("Олег Синєгубов", true), "Oleh Syniehubov");
        assert_eq!(latin_name("Юрій Ігнат", true), "Yurii Ihnat");
        assert_eq!(latin_name("Згурський", true), "Zghurskyi");
        assert_eq!(latin_name("Євгенія Ярошенко", true), "Yevheniia Yaroshenko");
        assert_eq!(latin_name("Олег Кіпер", true), "Oleh Kiper");
        assert_eq!(latin_name("Щербак", true), "Shcherbak");
        assert_eq!(latin_name("Мар'яна Безугла", true), "Mariana Bezuhla");
    }

    #[test]
    fn russian_names_follow_news_spelling() {
        assert_eq!(latin_name("Виталий Дорошенко", false), "Vitaliy Doroshenko");
        assert_eq!(latin_name("Глеб Савицкий", false), "Gleb Savitsky");
        assert_eq!(latin_name("Мария Захарова", false), "Mariya Zakharova");
        assert_eq!(latin_name("Евгений Пригожин", false), "Yevgeniy Prigozhin");
        assert_eq!(latin_name("Алексей Навальный", false), "Aleksey Navalnyy");
        assert_eq!(latin_name("Сабрина Сингх", false), "Sabrina Singh");
        assert_eq!(latin_name("Буркхард", false), "Burkhard");
    }

    #[test]
    fn the_letters_decide_the_language_before_the_flag() {
        // і is Ukrainian only; ы Russian only.
        assert_eq!(latin_name("Віталій Кличко", false), "Vitalii Klychko");
        // Letters both languages have: the flag decides.
        assert_eq!(latin_name("Вячеслав Володин", false), "Vyacheslav Volodin");
        assert_eq!(latin_name("Вячеслав Володин", true), "Viacheslav Volodyn");
        assert_eq!(latin_name("Mark Rutte", true), "Mark Rutte");
        assert!(is_cyrillic("Гнатюк") && !is_cyrillic("Rutte"));
    }
}
