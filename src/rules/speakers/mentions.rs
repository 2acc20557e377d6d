//! People mentioned in a document: registry names and role titles (resolved by date), and
//! names the registry does not know (capitalised word sequences that are not places or
//! institutions), grouped into entities.

use std::ops::Range;

use jiff::civil::Date;

use super::lexicon::{is_name_particle, is_not_a_name, is_title_word, role_keys};
use super::text::{Analysed, Token};
use crate::rules::normalize::fold;
use crate::rules::people::{Gender, Named, Registry};

/// A person the document talks about.
#[derive(Debug, Clone)]
pub struct Entity {
    /// The registry person, when known.
    pub person: Option<usize>,
    /// Name forms as written.
    pub forms: Vec<String>,
    /// Forms seen as the subject of a verb of saying (nominative).
    pub subject_forms: Vec<String>,
    /// The oblique case it was named in ("за словами X": genitive, "поговорили з X":
    /// instrumental), if any.
    pub oblique: Option<Case>,
    /// Folded surname key (unknown people).
    pub key: String,
    /// Gender: Some(true) female.
    pub female: Option<bool>,
    /// Role keys (from registry roles on the day and titles in the text).
    pub role_keys: Vec<&'static str>,
}

/// One mention of an entity.
#[derive(Debug, Clone)]
pub struct Mention {
    /// Tokens of the mention (the name; a title before it is in `title`).
    pub tokens: Range<usize>,
    /// The entity.
    pub entity: usize,
    /// The title or role as written right before the name, or the role alias itself.
    pub title: Option<String>,
    /// Whether the mention is a name (not a role title standing for a person).
    pub is_name: bool,
}

/// Everyone mentioned.
#[derive(Debug, Default)]
pub struct People {
    /// Entities.
    pub entities: Vec<Entity>,
    /// Mentions, in document order.
    pub mentions: Vec<Mention>,
    /// For each token, the mention covering it.
    pub at_token: Vec<Option<usize>>,
    /// Whether the article is Ukrainian rather than Russian, for spelling unknown Cyrillic
    /// names in Latin letters.
    pub ukrainian_text: bool,
}

impl People {
    /// The mention covering a token.
    pub fn mention_at(&self, token: usize) -> Option<&Mention> {
        self.at_token
            .get(token)
            .copied()
            .flatten()
            .map(|m| &self.mentions[m])
    }

    /// The display name of an entity: canonical for registry people; else the longest
    /// form written, in its base form when it was only seen in an oblique case, in Latin
    /// letters.
    pub fn name(&self, registry: &Registry, entity: usize) -> String {
        let name = self.name_as_written(registry, entity);
        if super::translit::is_cyrillic(&name) {
            super::translit::latin_name(&name, self.ukrainian_text)
        } else {
            name
        }
    }

    fn name_as_written(&self, registry: &Registry, entity: usize) -> String {
        let e = &self.entities[entity];
        if let Some(p) = e.person {
            return registry.people[p].name.clone();
        }
        let Some(longest) = e
            .forms
            .iter()
            .max_by_key(|f| (f.split_whitespace().count(), f.len()))
        else {
            return String::new();
        };
        let trimmed = longest
            .trim_end_matches("'s")
            .trim_end_matches("’s")
            .to_string();
        match e.oblique {
            Some(case) if !e.subject_forms.contains(longest) => base_form(&trimmed, case),
            _ => trimmed,
        }
    }
}

fn token_range(tokens: &[Token], start: usize, end: usize) -> Option<Range<usize>> {
    let first = tokens.partition_point(|t| t.end <= start);
    let last = tokens.partition_point(|t| t.start < end);
    (first < last).then_some(first..last)
}

/// Finds every mention in the analysed text.
pub fn find(registry: &Registry, doc: &str, text: &Analysed, day: Option<Date>) -> People {
    let tokens = &text.tokens;
    let folded = fold(doc);
    let mut hits = Vec::new();
    registry.matcher.scan(&folded.text, &mut hits);
    // Longest first at each start; drop overlaps.
    let mut spans: Vec<(Range<usize>, Vec<Named>, bool)> = Vec::new();
    for hit in &hits {
        let (start, end) = folded.original_range(doc, hit.start, hit.end);
        let Some(range) = token_range(tokens, start, end) else {
            continue;
        };
        let named = registry.named[hit.pattern as usize].clone();
        let capitalized = tokens[range.start].capitalized;
        spans.push((range, named, capitalized));
    }
    spans.sort_by(|a, b| {
        a.0.start
            .cmp(&b.0.start)
            .then((b.0.end - b.0.start).cmp(&(a.0.end - a.0.start)))
    });
    let mut accepted: Vec<(Range<usize>, Named)> = Vec::new();
    let mut covered_until = 0;
    for (range, named, capitalized) in spans {
        if range.start < covered_until {
            continue;
        }
        // People's names are capitalised; "песков" (sands) or "may" (month) are not them.
        let person = named.iter().find_map(|n| match n {
            Named::Person(p) => Some(*p),
            Named::Role(_) => None,
        });
        let role = named.iter().find_map(|n| match n {
            Named::Role(r) => Some(*r),
            Named::Person(_) => None,
        });
        let what = match (person, role) {
            (Some(p), _) if capitalized => Named::Person(p),
            (_, Some(r)) => Named::Role(r),
            _ => continue,
        };
        covered_until = range.end;
        accepted.push((range, what));
    }

    let named_people: Vec<usize> = accepted
        .iter()
        .filter_map(|(_, n)| match n {
            Named::Person(p) => Some(*p),
            Named::Role(_) => None,
        })
        .collect();
    let mut people = People {
        at_token: vec![None; tokens.len()],
        ukrainian_text: super::translit::mostly_ukrainian(doc),
        ..People::default()
    };
    let mut entity_of_person = std::collections::HashMap::new();
    let mut registry_entity = |people: &mut People, p: usize| -> usize {
        *entity_of_person.entry(p).or_insert_with(|| {
            let mut keys = Vec::new();
            if let Some(day) = day {
                for role in registry.roles_of(p, day) {
                    for key in &registry.roles[role].keys {
                        if !keys.contains(key) {
                            keys.push(*key);
                        }
                    }
                }
            }
            people.entities.push(Entity {
                person: Some(p),
                forms: Vec::new(),
                subject_forms: Vec::new(),
                oblique: None,
                key: String::new(),
                female: registry.people[p].gender.map(|g| g == Gender::Female),
                role_keys: keys,
            });
            people.entities.len() - 1
        })
    };

    let mut i = 0;
    while i < accepted.len() {
        let (range, what) = accepted[i].clone();
        match what {
            Named::Person(p) => {
                let entity = registry_entity(&mut people, p);
                // A given name (and patronymic) before a surname alias: "Дмитрий Песков".
                let mut range = range;
                let floor = if i > 0 { accepted[i - 1].0.end } else { 0 };
                while range.start > floor
                    && range.len() < 3
                    && given_name_like(doc, &tokens[range.start - 1], &tokens[range.start])
                {
                    range.start -= 1;
                }
                let title = title_before(doc, tokens, range.start);
                add_title_keys(&mut people.entities[entity], title.as_deref());
                push(&mut people, range, entity, title);
            }
            Named::Role(r) => {
                // "NATO Secretary General Mark Rutte": the role titles the name after it.
                if let Some((next, Named::Person(p))) = accepted.get(i + 1)
                    && next.start == range.end
                {
                    let entity = registry_entity(&mut people, *p);
                    let title =
                        Some(doc[tokens[range.start].start..tokens[range.end - 1].end].to_string());
                    add_title_keys(&mut people.entities[entity], title.as_deref());
                    push(&mut people, next.clone(), entity, title);
                    i += 2;
                    continue;
                }
                let holder = resolve_role(registry, r, day, &named_people);
                if let Some(p) = holder {
                    let entity = registry_entity(&mut people, p);
                    let written = &doc[tokens[range.start].start..tokens[range.end - 1].end];
                    let written = written
                        .strip_prefix("the ")
                        .or_else(|| written.strip_prefix("The "))
                        .unwrap_or(written);
                    add_title_keys(&mut people.entities[entity], Some(written));
                    push(&mut people, range, entity, Some(written.to_string()));
                    if let Some(last) = people.mentions.last_mut() {
                        last.is_name = false;
                    }
                }
            }
        }
        i += 1;
    }

    registry_surnames(registry, doc, tokens, &mut people);
    unknown_names(doc, tokens, &mut people);
    appositive_titles(tokens, &mut people);
    people.mentions.sort_by_key(|m| m.tokens.start);
    for (index, mention) in people.mentions.iter().enumerate() {
        for t in mention.tokens.clone() {
            people.at_token[t] = Some(index);
        }
    }
    people
}

/// Whether a token right before a name is part of it (a given name or patronymic).
fn given_name_like(doc: &str, token: &Token, next: &Token) -> bool {
    token.word
        && token.capitalized
        && token.paragraph == next.paragraph
        && !is_title_word(&token.text)
        && !is_not_a_name(&token.text)
        && !is_acronym(doc, token)
        && doc[token.end..next.start].chars().all(char::is_whitespace)
}

/// Surnames alone of registry people named in full elsewhere ("Johnson" after "Boris
/// Johnson"), for people whose surname alone is not an alias.
fn registry_surnames(registry: &Registry, doc: &str, tokens: &[Token], people: &mut People) {
    let mut taken = vec![false; tokens.len()];
    for m in &people.mentions {
        for t in m.tokens.clone() {
            taken[t] = true;
        }
    }
    let mut surnames: Vec<(String, usize)> = Vec::new();
    for (index, entity) in people.entities.iter().enumerate() {
        if let Some(p) = entity.person
            && let Some(last) = registry.people[p].name.split_whitespace().last()
        {
            surnames.push((crate::rules::normalize::fold_str(last), index));
        }
    }
    // The surname as the article spells it ("Федоров" of "Іван Федоров"), in any case.
    for m in &people.mentions {
        if m.is_name && people.entities[m.entity].person.is_some() && m.tokens.len() >= 2 {
            surnames.push((tokens[m.tokens.end - 1].text.clone(), m.entity));
        }
    }
    surnames.sort();
    surnames.dedup();
    for (i, t) in tokens.iter().enumerate() {
        if !t.word || !t.capitalized || is_acronym(doc, t) {
            continue;
        }
        if taken[i] {
            continue;
        }
        if let Some((_, entity)) = surnames
            .iter()
            .find(|(s, _)| *s == t.text || same_surname(s, &t.text))
        {
            push(people, i..i + 1, *entity, None);
        }
    }
}

/// Titles in apposition give role keys: "Kyrylo Budanov, the head of military
/// intelligence," and "the head of military intelligence, Kyrylo Budanov,".
fn appositive_titles(tokens: &[Token], people: &mut People) {
    let phrase_keys = |range: std::ops::Range<usize>| -> Vec<&'static str> {
        let text: Vec<&str> = tokens[range].iter().map(|t| t.text.as_str()).collect();
        role_keys(&text.join(" "))
    };
    let mut found: Vec<(usize, Vec<&'static str>)> = Vec::new();
    for m in &people.mentions {
        let (start, end) = (m.tokens.start, m.tokens.end);
        if tokens.get(end).is_some_and(|t| t.text == ",")
            && tokens
                .get(end + 1)
                .is_some_and(|t| matches!(t.text.as_str(), "the" | "a" | "an"))
        {
            let stop = (end + 1..tokens.len().min(end + 12))
                .find(|&t| matches!(tokens[t].text.as_str(), "," | "." | ";"))
                .unwrap_or(end + 1);
            found.push((m.entity, phrase_keys(end + 1..stop)));
        }
        if start >= 2 && tokens[start - 1].text == "," {
            let from = (start.saturating_sub(12)..start - 1)
                .rev()
                .find(|&t| matches!(tokens[t].text.as_str(), "," | "." | ";"))
                .map_or(start.saturating_sub(12), |t| t + 1);
            if tokens[from..start - 1].iter().any(|t| t.text == "the") {
                found.push((m.entity, phrase_keys(from..start - 1)));
            }
        }
    }
    for (entity, keys) in found {
        for key in keys {
            if !people.entities[entity].role_keys.contains(&key) {
                people.entities[entity].role_keys.push(key);
            }
        }
    }
}

fn push(people: &mut People, tokens: Range<usize>, entity: usize, title: Option<String>) {
    people.mentions.push(Mention {
        tokens,
        entity,
        title,
        is_name: true,
    });
}

fn add_title_keys(entity: &mut Entity, title: Option<&str>) {
    if let Some(title) = title {
        for key in role_keys(&crate::rules::normalize::fold_str(title)) {
            if !entity.role_keys.contains(&key) {
                entity.role_keys.push(key);
            }
        }
    }
}

/// Who a role names: the holder on the day; without a day, a holder named in the article,
/// else today's holder.
pub fn resolve_role(
    registry: &Registry,
    role: usize,
    day: Option<Date>,
    named: &[usize],
) -> Option<usize> {
    if let Some(day) = day {
        return registry.holders(role, day).first().copied();
    }
    let all: Vec<usize> = registry.roles[role]
        .holders
        .iter()
        .map(|(p, _)| *p)
        .collect();
    if let Some(p) = named.iter().rev().find(|p| all.contains(p)) {
        return Some(*p);
    }
    registry
        .holders(role, crate::rules::today())
        .first()
        .copied()
}

/// Title words written right before a name ("German Chancellor", "міністр закордонних
/// справ України"), as written; None when no title word is there.
fn title_before(doc: &str, tokens: &[Token], start: usize) -> Option<String> {
    let paragraph = tokens.get(start)?.paragraph;
    let mut first = start;
    let mut has_title = false;
    while first > 0 && start - first < 7 {
        let t = &tokens[first - 1];
        if t.paragraph != paragraph || !(t.word || t.text == "'s") {
            break;
        }
        let english_function_word = t.text.chars().all(|c| c.is_ascii_lowercase())
            && !is_title_word(&t.text)
            && !matches!(t.text.as_str(), "of" | "the" | "for");
        if english_function_word || super::lexicon::cues().contains_key(&t.text) {
            break;
        }
        has_title |= is_title_word(&t.text);
        first -= 1;
    }
    // Start at the first title word, with the proper adjectives right before it
    // ("German Chancellor"), not at sentence openers ("Тим часом речниця").
    let title_at = (first..start).find(|&t| is_title_word(&tokens[t].text))?;
    let mut begin = title_at;
    while begin > first && tokens[begin - 1].capitalized && !is_not_a_name(&tokens[begin - 1].text)
        || begin > first
            && matches!(
                tokens[begin - 1].text.as_str(),
                "german"
                    | "ukrainian"
                    | "russian"
                    | "british"
                    | "french"
                    | "polish"
                    | "american"
                    | "kremlin"
                    | "nato"
                    | "u"
                    | "us"
                    | "eu"
                    | "un"
            )
    {
        begin -= 1;
    }
    first = begin;
    while first < start && matches!(tokens[first].text.as_str(), "the" | "of" | "'s") {
        first += 1;
    }
    (has_title && first < start)
        .then(|| doc[tokens[first].start..tokens[start - 1].end].to_string())
}

fn is_initial(token: &Token, next: Option<&Token>) -> bool {
    token.word
        && token.capitalized
        && token.text.chars().count() == 1
        && next.is_some_and(|n| n.text == "." && n.start == token.end)
}

/// Whether a token is written in capitals only ("НАТО", "МГИМО", "IAEA").
pub(super) fn is_acronym(doc: &str, token: &Token) -> bool {
    let text = &doc[token.start..token.end];
    text.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && text
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_uppercase)
}

/// Capitalised sequences that look like names of people.
fn unknown_names(doc: &str, tokens: &[Token], people: &mut People) {
    let mut taken = vec![false; tokens.len()];
    for m in &people.mentions {
        for t in m.tokens.clone() {
            taken[t] = true;
        }
    }
    let covered = |_: &People, t: usize| taken[t];
    let mut candidates: Vec<(Range<usize>, bool)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let start_ok = |t: &Token| {
            t.word && t.capitalized && !is_not_a_name(&t.text) && !is_title_word(&t.text)
        };
        if covered(people, i) || !start_ok(&tokens[i]) || is_acronym(doc, &tokens[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut words = 0;
        while j < tokens.len() && tokens[j].paragraph == tokens[i].paragraph && !covered(people, j)
        {
            let t = &tokens[j];
            if is_initial(t, tokens.get(j + 1)) {
                j += 2;
                words += 1;
                continue;
            }
            if t.word
                && t.capitalized
                && !is_not_a_name(&t.text)
                && !is_title_word(&t.text)
                && !is_acronym(doc, t)
            {
                j += 1;
                words += 1;
                continue;
            }
            if t.word
                && is_name_particle(&t.text)
                && tokens.get(j + 1).is_some_and(|n| n.capitalized)
            {
                j += 1;
                continue;
            }
            break;
        }
        if words == 0 {
            i += 1;
            continue;
        }
        // A title right before allows a single word ("Minister Sybiha", "речник Песков").
        let titled = i > 0 && tokens[i - 1].word && is_title_word(&tokens[i - 1].text);
        // An adjective after a title is part of an institution ("речник Повітряних сил").
        // (Folded endings: ї -> і, й -> и.)
        let adjective = [
            "их",
            "ого",
            "оі",
            "ому",
            "ими",
            "ых",
            "ои",
            "еи",
            "ськоі",
            "ского",
        ]
        .iter()
        .any(|e| tokens[i].text.ends_with(e));
        let titled = titled && !adjective;
        if (2..=4).contains(&words) || (words == 1 && titled) {
            candidates.push((i..j, titled));
        }
        i = j.max(i + 1);
    }
    for (range, _) in &candidates {
        let last = &tokens[range.end - 1];
        let key = surname_key(&last.text);
        let entity = people
            .entities
            .iter()
            .position(|e| e.person.is_none() && same_surname(&e.key, &key))
            .unwrap_or_else(|| {
                let female = guess_female(&doc[tokens[range.start].start..last.end]);
                people.entities.push(Entity {
                    person: None,
                    forms: Vec::new(),
                    subject_forms: Vec::new(),
                    oblique: None,
                    key: key.clone(),
                    female,
                    role_keys: Vec::new(),
                });
                people.entities.len() - 1
            });
        let written = doc[tokens[range.start].start..last.end].to_string();
        people.entities[entity].forms.push(written);
        let title = title_before(doc, tokens, range.start);
        add_title_keys(&mut people.entities[entity], title.as_deref());
        push(people, range.clone(), entity, title);
    }

    for (range, _) in &candidates {
        for t in range.clone() {
            taken[t] = true;
        }
    }
    let covered = |_: &People, t: usize| taken[t];
    // Surnames alone, of people named in full elsewhere in the article.
    for (i, t) in tokens.iter().enumerate() {
        if !t.word || !t.capitalized || covered(people, i) || is_not_a_name(&t.text) {
            continue;
        }
        let key = surname_key(&t.text);
        let Some(entity) = people.entities.iter().position(|e| {
            e.person.is_none()
                && e.forms.iter().any(|f| f.contains(' '))
                && same_surname(&e.key, &key)
        }) else {
            continue;
        };
        push(people, i..i + 1, entity, None);
    }
}

fn surname_key(word: &str) -> String {
    word.trim_end_matches("'s").to_string()
}

/// Whether two folded surnames are forms of one (Синєгубов, Синєгубова, Синєгубову).
fn same_surname(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let cyrillic = short
        .chars()
        .next()
        .is_some_and(|c| ('а'..='я').contains(&c) || c == 'і' || c == 'є');
    if !cyrillic {
        return false;
    }
    // The shorter form without its last letter (at least four letters) starts the longer
    // one, which has at most three letters more: Синєгубов / Синєгубова / Синєгубову.
    let count = short.chars().count();
    if count < 4 {
        return false;
    }
    let keep = (count - 1).max(4);
    let stem_end = short
        .char_indices()
        .nth(keep)
        .map_or(short.len(), |(i, _)| i);
    let stem = &short[..stem_end];
    long.starts_with(stem) && long[stem.len()..].chars().count() <= 3
}

/// A person's gender guessed from a Cyrillic name in the nominative (`None`: no guess).
pub(super) fn guess_female(name: &str) -> Option<bool> {
    let words: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
    let last = words.last()?;
    let cyrillic = last.chars().any(|c| ('а'..='я').contains(&c));
    if !cyrillic {
        return None;
    }
    let endings = [
        "ова", "ева", "єва", "іна", "ина", "ська", "цька", "ская", "цкая", "ая",
    ];
    if endings.iter().any(|e| last.ends_with(e)) {
        return Some(true);
    }
    // A given name in -а/-я is feminine (Юлія, Олена), but for a few men's names.
    if words.len() >= 2 {
        let given = words[0].as_str();
        let male = [
            "микола",
            "ілля",
            "илья",
            "никита",
            "кузьма",
            "лука",
            "фома",
            "савва",
        ];
        if (given.ends_with('а') || given.ends_with('я')) && !male.contains(&given) {
            return Some(true);
        }
    }
    let male_endings = ["ов", "ев", "єв", "ін", "ин", "ий", "ій", "ой"];
    if male_endings.iter().any(|e| last.ends_with(e)) {
        return Some(false);
    }
    None
}

/// A grammatical case a name can be written in, other than the nominative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// "за словами Олега Синєгубова", "по словам Марии Захаровой".
    Genitive,
    /// "поговорили з Олегом Коваленком", "побеседовали с Анной Петровой".
    Instrumental,
}

/// The nominative of a Ukrainian or Russian name written in `case` ("Олега Синєгубова" ->
/// "Олег Синєгубов" in the genitive, "Олегом Коваленком" -> "Олег Коваленко" in the
/// instrumental); other names are returned unchanged.
pub fn base_form(name: &str, case: Case) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    if !words.iter().any(|w| {
        w.chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
    }) {
        return name.to_string();
    }
    // Some names have none of the letters only Ukrainian writes; their instrumental endings
    // still tell (Russian writes -ой, -ским: Миколою Точицьким is Ukrainian).
    let ukrainian = name
        .chars()
        .any(|c| matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є'))
        || case == Case::Instrumental
            && words.iter().any(|w| {
                ["ою", "ею", "ським", "цьким", "зьким"]
                    .iter()
                    .any(|e| w.ends_with(e))
            });
    let feminine = match case {
        // Feminine genitive surnames end -ої/-ой/-ської; then the given name is feminine too.
        Case::Genitive => words.last().is_some_and(|w| {
            w.ends_with("ої") || w.ends_with("ой") || w.ends_with("ії") && w.len() > 6
        }),
        // Feminine instrumentals end -ою/-ею (-ой/-ей in Russian); a masculine surname
        // decides for a given name such as Микола (Миколою Точицьким), an undeclined one
        // (Шевченко) leaves it to the given name.
        Case::Instrumental => {
            let feminine_ending = |w: &&str| {
                ["ою", "ею", "єю", "ой", "ей"]
                    .iter()
                    .any(|e| w.ends_with(e))
            };
            let masculine_ending = |w: &&str| {
                ["ом", "ем", "єм", "им", "ым"]
                    .iter()
                    .any(|e| w.ends_with(e))
            };
            words.last().is_some_and(feminine_ending)
                || !words.iter().any(masculine_ending) && words.iter().any(feminine_ending)
        }
    };
    let rules = match case {
        Case::Genitive => genitive_rules(ukrainian, feminine),
        Case::Instrumental => instrumental_rules(ukrainian, feminine),
    };
    words
        .iter()
        .map(|w| nominative(w, rules))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Endings of a word in the genitive and of its nominative, longest first.
fn genitive_rules(ukrainian: bool, feminine: bool) -> &'static [(&'static str, &'static str)] {
    if feminine {
        &[
            ("ської", "ська"),
            ("цької", "цька"),
            ("ской", "ская"),
            ("цкой", "цкая"),
            ("ової", "ова"),
            ("евої", "ева"),
            ("іної", "іна"),
            ("овой", "ова"),
            ("евой", "ева"),
            ("иной", "ина"),
            ("ії", "ія"),
            ("ии", "ия"),
            ("ги", "га"),
            ("ки", "ка"),
            ("и", "а"),
            ("ы", "а"),
        ]
    } else if ukrainian {
        &[
            ("ського", "ський"),
            ("цького", "цький"),
            ("зького", "зький"),
            ("ого", "ий"),
            ("ього", "ій"),
            ("енка", "енко"),
            ("енко", "енко"),
            ("Дмитра", "Дмитро"),
            ("Петра", "Петро"),
            ("ія", "ій"),
            ("ля", "ль"),
            ("ря", "р"),
            ("ії", "ія"),
            ("ли", "ла"),
            ("ки", "ка"),
            ("и", "а"),
            ("а", ""),
        ]
    } else {
        &[
            ("ского", "ский"),
            ("цкого", "цкий"),
            ("ого", "ий"),
            ("енко", "енко"),
            ("ия", "ий"),
            ("ея", "ей"),
            ("ля", "ль"),
            ("ря", "рь"),
            ("ы", "а"),
            // -и for -а after the letters that take no -ы (Луки, Ильи); other names in -и
            // are foreign and not declined (Тьерри Бретона, Джорджи Мелони).
            ("ки", "ка"),
            ("ги", "га"),
            ("хи", "ха"),
            ("жи", "жа"),
            ("ши", "ша"),
            ("чи", "ча"),
            ("щи", "ща"),
            ("ьи", "ья"),
            ("а", ""),
        ]
    }
}

/// Endings of a word in the instrumental and of its nominative, longest first.
fn instrumental_rules(ukrainian: bool, feminine: bool) -> &'static [(&'static str, &'static str)] {
    match (feminine, ukrainian) {
        (true, true) => &[
            ("ською", "ська"),
            ("цькою", "цька"),
            ("зькою", "зька"),
            ("овою", "ова"),
            ("евою", "ева"),
            ("євою", "єва"),
            ("іною", "іна"),
            ("иною", "ина"),
            ("ією", "ія"),
            ("ею", "я"),
            ("ою", "а"),
        ],
        (true, false) => &[
            ("ской", "ская"),
            ("цкой", "цкая"),
            ("овой", "ова"),
            ("евой", "ева"),
            ("ёвой", "ёва"),
            ("иной", "ина"),
            ("ыной", "ына"),
            ("ией", "ия"),
            ("ьей", "ья"),
            ("ой", "а"),
        ],
        (false, true) => &[
            ("ським", "ський"),
            ("цьким", "цький"),
            ("зьким", "зький"),
            ("овим", "ов"),
            ("евим", "ев"),
            ("євим", "єв"),
            ("іним", "ін"),
            ("иним", "ин"),
            ("енком", "енко"),
            ("Дмитром", "Дмитро"),
            ("Петром", "Петро"),
            ("Михайлом", "Михайло"),
            ("Павлом", "Павло"),
            ("ієм", "ій"),
            ("рем", "р"),
            ("лем", "ль"),
            ("ою", "а"),
            ("ом", ""),
        ],
        (false, false) => &[
            ("ским", "ский"),
            ("цким", "цкий"),
            ("овым", "ов"),
            ("евым", "ев"),
            ("ёвым", "ёв"),
            ("иным", "ин"),
            ("ыным", "ын"),
            // Undeclined in Russian, but a Ukrainian name spelt without і/ї/є is too.
            ("енком", "енко"),
            ("еем", "ей"),
            ("ием", "ий"),
            ("рем", "рь"),
            ("лем", "ль"),
            ("ом", ""),
        ],
    }
}

fn nominative(word: &str, rules: &[(&str, &str)]) -> String {
    let replace = |suffix: &str, with: &str| -> Option<String> {
        word.strip_suffix(suffix)
            .map(|stem| format!("{stem}{with}"))
    };
    for (suffix, with) in rules {
        if word.chars().count() > suffix.chars().count() + 1
            && let Some(done) = replace(suffix, with)
        {
            return done;
        }
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `base_form` on pairs of a name as written in `case` and its nominative.
    fn assert_base_forms(case: Case, pairs: &[(&str, &str)]) {
        for (written, base) in pairs {
            assert_eq!(base_form(written, case), *base, "{written}");
        }
    }

    #[test]
    fn genitive_names_get_their_base_form() {
        assert_base_forms(
            Case::Genitive,
            &[
                ("Олега Синєгубова", "Олег Синєгубов"),
                ("Андрія Коваленка", "Андрій Коваленко"),
                ("Ігоря Терехова", "Ігор Терехов"),
                ("Юлії Свириденко", "Юлія Свириденко"),
                ("Олександра Вілкула", "Олександр Вілкул"),
                ("Дмитрия Медведева", "Дмитрий Медведев"),
                ("Марии Захаровой", "Мария Захарова"),
                ("Mark Rutte", "Mark Rutte"),
                // Foreign names in -и are not declined in Russian; -и after к, г, ... is -а.
                ("Тьерри Буркхарда", "Тьерри Буркхард"),
                ("Джорджи Мелони", "Джорджа Мелони"),
                ("Луки Петрова", "Лука Петров"),
            ],
        );
    }

    #[test]
    fn instrumental_names_get_their_base_form() {
        assert_base_forms(
            Case::Instrumental,
            &[
                ("Олегом Коваленком", "Олег Коваленко"),
                ("Тарасом Бондарчуком", "Тарас Бондарчук"),
                ("Андрієм Синєгубовим", "Андрій Синєгубов"),
                ("Миколою Точицьким", "Микола Точицький"),
                ("Ігорем Тереховим", "Ігор Терехов"),
                ("Ольгою Стефанішиною", "Ольга Стефанішина"),
                ("Юлією Свириденко", "Юлія Свириденко"),
                ("Андреем Волковым", "Андрей Волков"),
                ("Игорем Ивановским", "Игорь Ивановский"),
                ("Анной Петровой", "Анна Петрова"),
                ("Марией Захаровой", "Мария Захарова"),
                ("Alexander Stubb", "Alexander Stubb"),
            ],
        );
    }
}
