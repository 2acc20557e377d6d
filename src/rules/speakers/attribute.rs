//! Attribution proper: speech cues, their speakers and their content, sentence by sentence,
//! keeping track of who spoke last so pronouns, role follow-ups and continued quotations
//! resolve to the right person.

use std::ops::Range;

use jiff::civil::Date;

use super::lexicon::{self, CueClass, Label, ROLE_NOUNS, is_title_word, pronoun};
use super::mentions::{self, Case, People};
use super::text::{self, Analysed, Token};
use super::{Document, Statement, StatementKind};
use crate::rules::normalize::fold_str;
use crate::rules::people::Registry;

/// A statement being built: byte pieces of the document.
#[derive(Debug, Clone)]
struct Draft {
    entity: usize,
    role: Option<String>,
    kind: StatementKind,
    pieces: Vec<Range<usize>>,
    sentence: usize,
    paragraph: usize,
}

/// A speaker found for a cue.
#[derive(Debug, Clone)]
struct Speaker {
    entity: usize,
    role: Option<String>,
    /// Tokens naming the speaker (empty for pronouns inside a cue).
    tokens: Range<usize>,
}

impl Speaker {
    /// A speaker not named at token `at` (a pronoun inside a cue, the poster of a post, the
    /// speaker going on from before): no role, no naming tokens.
    fn unnamed(entity: usize, at: usize) -> Self {
        Speaker {
            entity,
            role: None,
            tokens: at..at,
        }
    }
}

struct Attributor<'a> {
    registry: &'a Registry,
    doc: &'a str,
    title_len: usize,
    a: &'a Analysed,
    people: People,
    drafts: Vec<Draft>,
    /// Tokens that are the content of a statement (cues inside are nested speech).
    consumed: Vec<bool>,
    /// Sentences already used as a statement's content.
    used_sentence: Vec<bool>,
    /// Who the last "Source:" label named.
    source: Option<usize>,
    /// The current sentence.
    sentence: usize,
    /// A post announced by a sentence ending its paragraph with a colon ("X написав у
    /// Telegram:"): whose it is, the paragraph it goes on in and the paragraphs it had.
    post: Option<Post>,
}

/// See [`Attributor::post`].
#[derive(Clone, Copy)]
struct Post {
    entity: usize,
    paragraph: usize,
    paragraphs: usize,
}

/// The most paragraphs an announced post is taken to have.
const POST_PARAGRAPHS: usize = 4;

const CONNECTIVES: &[&str] = &[
    "but",
    "however",
    "yet",
    "also",
    "але",
    "однак",
    "проте",
    "водночас",
    "також",
    "но",
    "однако",
    "при",
    "также",
    "тому",
    "поэтому",
    "зокрема",
    "в",
    "у",
];

const THAT: &[&str] = &["that", "що", "что", "how", "як", "как", "чтобы", "щоб"];

/// Words that open a clause before a sentence's subject ("Asked whether …, X declined",
/// "Відповідаючи на запитання, X …"), folded.
const CLAUSE_OPENERS: &[&str] = &[
    "asked",
    "asking",
    "answering",
    "responding",
    "speaking",
    "when",
    "while",
    "although",
    "though",
    "відповідаючи",
    "коментуючи",
    "говорячи",
    "хоча",
    "коли",
    "отвечая",
    "комментируя",
    "говоря",
    "хотя",
    "когда",
];

/// "And" joining two verbs of saying of one speaker ("напомнил …, и назвал …").
const AND: &[&str] = &["and", "і", "та", "й", "и"];

const PREPOSITIONS: &[&str] = &[
    "по",
    "за",
    "із",
    "з",
    "с",
    "перед",
    "following",
    "from",
    "with",
    "addressing",
    "writing",
    "in",
    "on",
    "at",
    "during",
    "after",
    "before",
    "to",
    "while",
    "speaking",
    "у",
    "в",
    "на",
    "під",
    "во",
    "после",
    "після",
    "під час",
    "перед",
];

fn is_dash(text: &str) -> bool {
    matches!(text, "-" | "–" | "—" | "―")
}

/// Runs attribution on a document.
pub fn run(registry: &Registry, document: &Document, day: Option<Date>) -> Vec<Statement> {
    let doc = document.text.as_str();
    let analysed = text::analyse(doc);
    let people = mentions::find(registry, doc, &analysed, day);
    let mut attributor = Attributor {
        registry,
        doc,
        title_len: document.title_len,
        a: &analysed,
        consumed: vec![false; analysed.tokens.len()],
        used_sentence: vec![false; analysed.sentences.len()],
        people,
        drafts: Vec::new(),
        source: None,
        sentence: 0,
        post: None,
    };
    let mut interviews = attributor.interviews();
    for interview in &interviews {
        for index in interview.sentences.clone() {
            attributor.used_sentence[index] = true;
        }
        if let Some((name, case)) = interview.oblique_name.clone() {
            attributor.named_in_case(interview.interviewee, name, case);
        }
    }
    for index in 0..analysed.sentences.len() {
        attributor.sentence = index;
        if let Some(at) = interviews.iter().position(|i| i.first_sentence == index) {
            let interview = interviews.swap_remove(at);
            attributor.drafts.extend(interview.answers);
        }
        if !attributor.used_sentence[index] {
            attributor.sentence_statements(index);
        }
    }
    attributor.finish()
}

impl<'a> Attributor<'a> {
    fn tokens(&self) -> &'a [Token] {
        &self.a.tokens
    }

    fn text_of(&self, from: usize, to: usize) -> Range<usize> {
        let t = self.tokens();
        t[from].start..t[to - 1].end
    }

    fn words_in(&self, range: Range<usize>) -> usize {
        self.tokens()[range].iter().filter(|t| t.word).count()
    }

    fn is_title_sentence(&self, s: usize) -> bool {
        self.title_len > 0 && self.tokens()[s].start < self.title_len
    }

    fn sentence_statements(&mut self, index: usize) {
        let sentence = self.a.sentences[index].clone();
        let (mut s, e) = (sentence.tokens.start, sentence.tokens.end);
        let tokens = self.tokens();
        // "Source: …" / "Quote: …" / "Details: …" labels.
        if let Some((label, after)) = self.label_at(s, e) {
            match label {
                Label::Source => {
                    self.source = (after..e)
                        .find_map(|t| self.people.mention_at(t).map(|m| m.entity))
                        .or(self.source);
                    return;
                }
                Label::Quote => {
                    if let Some(named) =
                        (s..after).find_map(|t| self.people.mention_at(t).map(|m| m.entity))
                    {
                        self.source = Some(named);
                    }
                    self.quote_block(index, after, e);
                    return;
                }
                Label::Details | Label::Background => s = after,
            }
        }
        if s >= e {
            return;
        }
        if self.post_goes_on(index, s, e) {
            return;
        }
        let before = self.drafts.len();
        let paragraph_start = s == 0 || tokens[s - 1].paragraph != tokens[s].paragraph;
        if self.is_title_sentence(s) {
            self.title_colon(index, s, e, false);
        } else if paragraph_start {
            // "Зеленський: «...»" lines in live blogs: only with a quotation after the colon.
            self.title_colon(index, s, e, true);
        }
        let mut k = s;
        while k < e {
            if tokens[k].quote.is_some() || self.consumed[k] || !tokens[k].word {
                k += 1;
                continue;
            }
            let Some((class, len)) = self.cue_at(k, e) else {
                k += 1;
                continue;
            };
            if self.blocked(k, s) || (len == 1 && self.called_without_quote(k, e)) {
                k += len;
                continue;
            }
            if let Some(draft) = self.attribute_cue(index, s, e, k, len, class) {
                for piece in &draft.pieces {
                    let from = tokens.partition_point(|t| t.start < piece.start);
                    let to = tokens.partition_point(|t| t.end <= piece.end);
                    for t in from..to.max(from) {
                        self.consumed[t] = true;
                    }
                }
                self.drafts.push(draft);
            }
            k += len;
        }
        if self.drafts.len() == before {
            self.continuation(index, s, e);
        }
        if self.drafts.len() == before {
            self.announce_post(s, e);
        }
    }

    /// "Сидоренко написав у Telegram:" at the end of a paragraph, the post itself in the
    /// paragraphs after it without quotation marks: records whose post follows.
    fn announce_post(&mut self, s: usize, e: usize) {
        let tokens = self.tokens();
        let ends_paragraph = tokens
            .get(e)
            .is_none_or(|next| next.paragraph != tokens[e - 1].paragraph);
        if tokens[e - 1].text != ":" || !ends_paragraph {
            return;
        }
        let Some((k, len)) = (s..e).find_map(|k| match self.cue_at(k, e) {
            Some((CueClass::Say, len)) if tokens[k].word => Some((k, len)),
            _ => None,
        }) else {
            return;
        };
        let speaker = self
            .subject_before(k, s)
            .or_else(|| self.speaker_after(k + len, e, false));
        self.post = speaker.map(|speaker| Post {
            entity: speaker.entity,
            paragraph: tokens[e - 1].paragraph + 1,
            paragraphs: 0,
        });
    }

    /// A sentence of an announced post: the paragraph's text so far is the poster's direct
    /// speech, one statement per paragraph. A paragraph with a quotation or a verb of saying
    /// of its own ends the post (the article speaks again).
    fn post_goes_on(&mut self, index: usize, s: usize, e: usize) -> bool {
        let Some(post) = self.post else {
            return false;
        };
        let tokens = self.tokens();
        let paragraph = tokens[s].paragraph;
        let first_of_paragraph = s == 0 || tokens[s - 1].paragraph != paragraph;
        if paragraph + 1 == post.paragraph && !first_of_paragraph {
            // A later sentence of a paragraph already taken as the post's.
            let Some(clause) = self.clause(s, e) else {
                return false;
            };
            let piece = self
                .drafts
                .last_mut()
                .filter(|d| d.paragraph == paragraph && d.entity == post.entity)
                .and_then(|d| d.pieces.last_mut());
            let Some(piece) = piece else {
                return false;
            };
            piece.end = clause.end;
            self.used_sentence[index] = true;
            return true;
        }
        if paragraph != post.paragraph || !first_of_paragraph || post.paragraphs == POST_PARAGRAPHS
        {
            self.post = None;
            return false;
        }
        let paragraph_end = tokens[s..].partition_point(|t| t.paragraph == paragraph) + s;
        let own_voice = (s..paragraph_end).any(|t| {
            tokens[t].quote.is_some() || (tokens[t].word && self.cue_at(t, paragraph_end).is_some())
        });
        let speaker = Speaker::unnamed(post.entity, s);
        let draft = (!own_voice)
            .then(|| self.clause(s, e))
            .flatten()
            .and_then(|clause| self.draft(index, speaker, vec![clause], true));
        let Some(draft) = draft else {
            self.post = None;
            return false;
        };
        self.drafts.push(draft);
        self.used_sentence[index] = true;
        self.post = Some(Post {
            paragraph: paragraph + 1,
            paragraphs: post.paragraphs + 1,
            ..post
        });
        true
    }

    /// A label ("Source:", "Цитата:") at the start of a sentence: the label and the token
    /// after its colon.
    fn label_at(&self, s: usize, e: usize) -> Option<(Label, usize)> {
        let tokens = self.tokens();
        // "Цитата:", "Пряма мова:", and "Пряма мова Зеленського:", "Quote from Rutte:".
        let colon = (s..e.min(s + 7)).find(|&t| tokens[t].text == ":")?;
        for words in 1..=2 {
            if s + words > colon {
                break;
            }
            let name: Vec<&str> = tokens[s..s + words]
                .iter()
                .map(|t| t.text.as_str())
                .collect();
            let Some(label) = lexicon::label(&name.join(" ")) else {
                continue;
            };
            if s + words == colon {
                return Some((label, colon + 1));
            }
            // Only a quotation label may name its speaker before the colon.
            let named =
                (s + words..colon).find_map(|t| self.people.mention_at(t).map(|m| m.entity));
            if label == Label::Quote && named.is_some() {
                return Some((label, colon + 1));
            }
        }
        None
    }

    /// Matches a cue starting at token `k`.
    fn cue_at(&self, k: usize, e: usize) -> Option<(CueClass, usize)> {
        let tokens = self.tokens();
        let candidates = lexicon::cues().get(&tokens[k].text)?;
        for cue in candidates {
            let n = cue.words.len();
            if k + n > e {
                continue;
            }
            if cue
                .words
                .iter()
                .zip(&tokens[k..k + n])
                .all(|(w, t)| *w == t.text && t.quote.is_none())
            {
                return Some((cue.class, n));
            }
        }
        None
    }

    /// "called" is speech only with what was said ("called it \"a disgrace\""), not
    /// "called a meeting".
    fn called_without_quote(&self, k: usize, e: usize) -> bool {
        let tokens = self.tokens();
        matches!(tokens[k].text.as_str(), "called" | "calls")
            && !(k + 1..e.min(k + 6)).any(|t| self.is_open_mark(t))
    }

    /// Negated, modal or passive cues are not statements ("was asked", "did not say").
    fn blocked(&self, k: usize, s: usize) -> bool {
        let tokens = self.tokens();
        // Plural verbs ("заявили", "сказали") have collective or joint subjects.
        let word = tokens[k].text.as_str();
        if word.ends_with("ли")
            && word
                .chars()
                .next()
                .is_some_and(|c| ('а'..='я').contains(&c))
        {
            return true;
        }
        let previous = |back: usize| {
            k.checked_sub(back)
                .filter(|i| *i >= s)
                .map(|i| tokens[i].text.as_str())
        };
        // A verb inside an indirect question reports no statement: "Asked whether the
        // chancellor had promised …", "на запитання, чи обіцяв …", "обещал ли …".
        let in_question = (s..k)
            .rev()
            .take_while(|&i| tokens[i].text != ",")
            .any(|i| match tokens[i].text.as_str() {
                "whether" => true,
                "if" => i > s && tokens[i - 1].text.starts_with("ask"),
                "чи" => i > s && tokens[i - 1].text == ",",
                _ => false,
            })
            || tokens.get(k + 1).is_some_and(|t| t.text == "ли");
        if in_question {
            return true;
        }
        let first = previous(1);
        let second = previous(2);
        first.is_some_and(lexicon::is_blocker)
            || (second.is_some_and(|w| matches!(w, "not" | "n't" | "never" | "не" | "ні"))
                && first.is_some_and(|w| w != ","))
    }

    fn attribute_cue(
        &mut self,
        index: usize,
        s: usize,
        e: usize,
        k: usize,
        len: usize,
        class: CueClass,
    ) -> Option<Draft> {
        let tokens = self.tokens();
        let cue_end = k + len;
        match class {
            CueClass::According | CueClass::AccordingPronoun => {
                let speaker = if class == CueClass::AccordingPronoun {
                    let female = tokens[k..cue_end]
                        .iter()
                        .find_map(|t| pronoun(&t.text))
                        .flatten();
                    let entity = self.resolve_pronoun(female, k, index)?;
                    Speaker::unnamed(entity, cue_end)
                } else {
                    let speaker = self.speaker_after(cue_end, e, true)?;
                    self.named_in_case(speaker.entity, speaker.tokens.clone(), Case::Genitive);
                    speaker
                };
                let at_start = tokens[s..k]
                    .iter()
                    .all(|t| !t.word || CONNECTIVES.contains(&t.text.as_str()));
                let after = self.skip_punct(speaker.tokens.end.max(cue_end), e);
                let mut pieces = Vec::new();
                if at_start {
                    pieces.extend(self.clause(after, e));
                } else {
                    pieces.extend(self.clause(s, k));
                    if self.words_in(after..e) > 3 {
                        pieces.extend(self.clause(after, e));
                    }
                }
                self.draft(index, speaker, pieces, false)
            }
            CueClass::ThisWasSaid => {
                let mut from = cue_end;
                while from < e && matches!(tokens[from].text.as_str(), "by" | "у" | "в") {
                    from += 1;
                }
                let speaker = self.speaker_after(from, e, false)?;
                let previous = index.checked_sub(1)?;
                if self.used_sentence[previous]
                    || self.drafts.iter().any(|d| d.sentence == previous)
                {
                    return None;
                }
                let range = self.a.sentences[previous].tokens.clone();
                let pieces: Vec<Range<usize>> =
                    self.clause(range.start, range.end).into_iter().collect();
                self.used_sentence[previous] = true;
                self.draft(index, speaker, pieces, false)
            }
            CueClass::Say | CueClass::Urge | CueClass::Opinion => {
                // "Про це він написав", "Об этом же рассказал X", "This he said": the
                // content is the sentence before.
                let words: Vec<&str> = tokens[s..k].iter().map(|t| t.text.as_str()).collect();
                let refers_back = matches!(
                    words.as_slice(),
                    ["про", "це", ..]
                        | ["об", "этом", ..]
                        | ["this", ..]
                        | ["це", ..]
                        | ["это", ..]
                ) && k - s <= 12
                    && tokens[s..k].iter().all(|t| t.quote.is_none())
                    && class != CueClass::Opinion;
                // "..., и назвал B" after a statement of this sentence: the same speaker.
                let coordinated = (k >= s + 2
                    && tokens[k - 2].text == ","
                    && AND.contains(&tokens[k - 1].text.as_str()))
                .then(|| self.drafts.last().filter(|d| d.sentence == index))
                .flatten()
                .map(|d| Speaker::unnamed(d.entity, k));
                let before = coordinated.or_else(|| self.subject_before(k, s));
                let inverted_ok = refers_back
                    || k == s
                    || tokens[k - 1].quote.is_some()
                    || matches!(tokens[k - 1].text.as_str(), "," | ":" | "as" | "як" | "как")
                    || is_dash(&tokens[k - 1].text)
                    || self.quote_ending_before(k, s).is_some();
                let speaker = match before {
                    Some(speaker) => Some(speaker),
                    None if inverted_ok => self.speaker_after(cue_end, e, false),
                    None => None,
                }
                .or_else(|| self.sentence_subject(k, s, e))?;
                if !speaker.tokens.is_empty() {
                    self.learn_gender(speaker.entity, k);
                }
                if refers_back {
                    let previous = index.checked_sub(1)?;
                    if self.used_sentence[previous] {
                        return None;
                    }
                    // Someone else said the same: a statement of theirs too.
                    if let Some(said) = self.drafts.iter().find(|d| d.sentence == previous) {
                        if said.entity == speaker.entity {
                            return None;
                        }
                        let (pieces, direct) =
                            (said.pieces.clone(), said.kind == StatementKind::Direct);
                        return self.draft(index, speaker, pieces, direct);
                    }
                    let range = self.a.sentences[previous].tokens.clone();
                    let pieces: Vec<Range<usize>> =
                        self.clause(range.start, range.end).into_iter().collect();
                    self.used_sentence[previous] = true;
                    return self.draft(index, speaker, pieces, false);
                }
                let subject_form = self.doc[self.span_of(&speaker.tokens)].to_string();
                if !speaker.tokens.is_empty()
                    && self.people.mention_at(speaker.tokens.start).is_some()
                {
                    self.people.entities[speaker.entity]
                        .subject_forms
                        .push(subject_form);
                }
                let head_start = k.min(speaker.tokens.start.max(s));
                let head_start = if speaker.tokens.is_empty() {
                    k
                } else {
                    head_start
                };
                let head_end = cue_end.max(speaker.tokens.end);
                self.say_content(
                    index, s, e, k, cue_end, head_start, head_end, class, speaker,
                )
            }
        }
    }

    fn span_of(&self, tokens: &Range<usize>) -> Range<usize> {
        if tokens.is_empty() {
            return 0..0;
        }
        self.text_of(tokens.start, tokens.end)
    }

    #[allow(clippy::too_many_arguments)]
    fn say_content(
        &mut self,
        index: usize,
        s: usize,
        e: usize,
        k: usize,
        cue_end: usize,
        head_start: usize,
        head_end: usize,
        class: CueClass,
        speaker: Speaker,
    ) -> Option<Draft> {
        let tokens = self.tokens();
        // A: "Quote," X said.
        if let Some(q) = self.quote_ending_before(head_start, s) {
            let mut pieces = vec![self.a.quotes[q].inner.clone()];
            // "A," he said, "B." / "A," he said. "B."
            if let Some(q2) = self.quote_starting_after(head_end, e, &[",", ":", "."]) {
                pieces.push(self.a.quotes[q2].inner.clone());
            } else if let Some(next) = self.a.sentences.get(index + 1).cloned()
                && tokens[next.tokens.start].paragraph == tokens[s].paragraph
                && let Some(q2) = self.whole_quote(next.tokens.start, next.tokens.end)
                && self.words_in(next.tokens.clone()) >= 2
                && !self.has_cue(next.tokens.start, next.tokens.end)
                && next.tokens.end
                    >= self
                        .a
                        .sentences
                        .iter()
                        .filter(|x| tokens[x.tokens.start].paragraph == tokens[s].paragraph)
                        .map(|x| x.tokens.end)
                        .max()
                        .unwrap_or(0)
            {
                pieces.push(self.a.quotes[q2].inner.clone());
                self.used_sentence[index + 1] = true;
            }
            return self.draft(index, speaker, pieces, true);
        }
        if class == CueClass::Opinion {
            // Opinions attribute only what stands before them, after a dash.
            let dash = head_start > s && is_dash(&tokens[head_start - 1].text);
            if !dash {
                return None;
            }
        }
        // B: X said: "Quote". / X told journalists: "Quote".
        let after_object = (head_end..e.min(head_end + 6))
            .take_while(|&t| tokens[t].quote.is_none() && self.cue_at(t, e).is_none())
            .find(|&t| matches!(tokens[t].text.as_str(), ":" | ","))
            .filter(|&t| tokens[head_end..t].iter().all(|x| x.word));
        let adjacent = self
            .quote_starting_after(head_end, e, &[",", ":", "that", "що", "что", "-", "–", "—"])
            .or_else(|| after_object.and_then(|t| self.quote_starting_after(t, e, &[",", ":"])));
        if let Some(q) = adjacent {
            let quote = &self.a.quotes[q];
            let rest_words = tokens[head_end..e]
                .iter()
                .filter(|t| t.word && t.start >= quote.end)
                .count();
            let quote_words = self.quote_words(q);
            if rest_words <= 3 && quote_words >= 3 {
                return self.draft(index, speaker, vec![quote.inner.clone()], true);
            }
        }
        // C: "Content, X said." / "Content, – заявив X на брифінгу."
        let no_clause_after = !tokens[head_end..e]
            .iter()
            .any(|t| THAT.contains(&t.text.as_str()) || t.text == ":");
        let circumstance = tokens
            .get(head_end)
            .is_some_and(|t| PREPOSITIONS.contains(&t.text.as_str()));
        // Not for an apposition ("The US secretary of state, Antony Blinken, called"):
        // there the words before are the speaker's title.
        let apposition =
            speaker.tokens.end <= k && tokens[speaker.tokens.end..k].iter().any(|t| t.text == ",");
        // Nothing said after the cue: at most a few words, or a circumstance ("on May 20").
        let ends_there = self.words_in(head_end..e) <= 3 || circumstance;
        if apposition && no_clause_after && ends_there && speaker.tokens.start > s + 1 {
            // "Content, the head of X, Kyrylo Budanov, said on Monday.": the content ends
            // where the title before the name begins.
            let comma = speaker.tokens.start - 1;
            if tokens[comma].text == "," {
                let title_start = (comma.saturating_sub(12).max(s)..comma)
                    .rev()
                    .find(|&c| tokens[c].text == ",")
                    .filter(|&c| {
                        tokens[c + 1..comma]
                            .iter()
                            .any(|t| t.text == "the" || is_title_word(&t.text))
                    });
                let end = title_start.unwrap_or(comma);
                if self.words_in(s..end) >= 3
                    && let Some(piece) = self.clause(s, end)
                {
                    return self.draft(index, speaker, vec![piece], false);
                }
            }
        }
        if head_start > s && no_clause_after && !apposition {
            let separator = &tokens[head_start - 1];
            let dash = is_dash(&separator.text);
            let short = self.words_in(head_end..e) <= 6 || circumstance;
            if (separator.text == "," && short) || dash {
                let mut end = head_start - 1;
                if dash && end > s && tokens[end - 1].text == "," {
                    end -= 1;
                }
                if let Some(piece) = self.clause(s, end)
                    && self.words_in(s..end) >= 3
                {
                    if let Some(q) = self.whole_quote(s, end) {
                        return self.draft(
                            index,
                            speaker,
                            vec![self.a.quotes[q].inner.clone()],
                            true,
                        );
                    }
                    let first_word = self.skip_punct(s, end);
                    let direct = dash && tokens.get(first_word).is_some_and(|t| t.capitalized);
                    return self.draft(index, speaker, vec![piece], direct);
                }
            }
        }
        // D: X said (that) content.
        let mut start = head_end.max(cue_end);
        let that = (start..e.min(start + 12))
            .take_while(|&t| {
                tokens[t].quote.is_none() && !matches!(tokens[t].text.as_str(), "." | ";")
            })
            .find(|&t| THAT.contains(&tokens[t].text.as_str()) && !self.consumed[t])
            // "said X and that Y": the content starts at X.
            .filter(|&t| {
                t == start
                    || !matches!(
                        tokens[t - 1].text.as_str(),
                        "and" | "but" | "і" | "та" | "й" | "и" | "а" | "але" | "но"
                    )
            });
        // "X said Y had assured ministers that ...": that "that" is Y's, and X's content is
        // all of it — Y's words reach us through X (nested speech; the inner cue is then
        // inside X's content and attributes nothing of its own).
        let nested = that.is_some_and(|t| {
            (start..t).any(|inner| {
                tokens[inner].word
                    && self
                        .cue_at(inner, e)
                        .is_some_and(|(class, _)| class == CueClass::Say)
                    && (start..inner).any(|x| self.people.mention_at(x).is_some())
            })
        });
        let that = that.filter(|_| !nested);
        let found_that = that.is_some() || nested;
        if let Some(t) = that {
            start = t + 1;
        }
        let told = matches!(tokens[k].text.as_str(), "told" | "tell" | "tells");
        if !found_that {
            if told && tokens.get(start).is_none_or(|t| t.text != ":") {
                return None;
            }
            if class == CueClass::Urge && speaker.tokens.end <= k {
                start = k;
            }
            let first = tokens.get(start).map(|t| t.text.as_str()).unwrap_or("");
            if PREPOSITIONS.contains(&first) && class != CueClass::Urge {
                let comma = (start..e.min(start + 10)).find(|&t| tokens[t].text == ",")?;
                start = comma + 1;
            }
        }
        let start = self.skip_punct(start, e);
        if self.words_in(start..e) < 3 {
            return None;
        }
        if let Some(q) = self.whole_quote(start, self.trim_end(start, e)) {
            return self.draft(index, speaker, vec![self.a.quotes[q].inner.clone()], true);
        }
        // "напомнил, что A, и назвал B": a second verb of saying joined to the first is a
        // statement of its own, found when attribution reaches that verb.
        let e = (start..e.saturating_sub(2))
            .find(|&t| {
                tokens[t].text == ","
                    && tokens[t].quote.is_none()
                    && AND.contains(&tokens[t + 1].text.as_str())
                    && self
                        .cue_at(t + 2, e)
                        .is_some_and(|(class, _)| matches!(class, CueClass::Say | CueClass::Urge))
            })
            .unwrap_or(e);
        let mut pieces: Vec<Range<usize>> = self.clause(start, e).into_iter().collect();
        // A next sentence that goes on with the reported speech ("But ...").
        if let Some(next) = self.a.sentences.get(index + 1).cloned()
            && tokens[next.tokens.start].paragraph == tokens[s].paragraph
            && CONNECTIVES[..9].contains(&tokens[next.tokens.start].text.as_str())
            && !self.has_cue(next.tokens.start, next.tokens.end)
            && !(next.tokens.start..next.tokens.end).any(|t| self.people.mention_at(t).is_some())
            && let (Some(last), Some(more)) = (
                pieces.last_mut(),
                self.clause(next.tokens.start, next.tokens.end),
            )
        {
            last.end = more.end;
            self.used_sentence[index + 1] = true;
        }
        self.draft(index, speaker, std::mem::take(&mut pieces), false)
    }

    /// Words inside a quotation.
    fn quote_words(&self, q: usize) -> usize {
        let quote = &self.a.quotes[q];
        let tokens = self.tokens();
        let from = tokens.partition_point(|t| t.start < quote.inner.start);
        let to = tokens.partition_point(|t| t.end <= quote.inner.end);
        tokens[from..to.max(from)].iter().filter(|t| t.word).count()
    }

    fn has_cue(&self, s: usize, e: usize) -> bool {
        (s..e).any(|k| self.tokens()[k].quote.is_none() && self.cue_at(k, e).is_some())
    }

    fn skip_punct(&self, mut at: usize, e: usize) -> usize {
        let tokens = self.tokens();
        while at < e && !tokens[at].word && tokens[at].quote.is_none() && !self.is_open_mark(at) {
            at += 1;
        }
        at
    }

    fn is_open_mark(&self, t: usize) -> bool {
        let start = self.tokens()[t].start;
        self.a.quotes.iter().any(|q| q.open == start)
    }

    /// End of a clause without trailing punctuation.
    fn trim_end(&self, s: usize, mut e: usize) -> usize {
        let tokens = self.tokens();
        while e > s {
            let t = &tokens[e - 1];
            let closing_mark = self
                .a
                .quotes
                .iter()
                .any(|q| q.inner.end == t.start && q.end == t.end);
            if t.word || closing_mark || t.text == ")" || t.text == "]" {
                break;
            }
            e -= 1;
        }
        e
    }

    /// The byte range of a clause from token `s` to `e`, without edge punctuation.
    fn clause(&self, s: usize, e: usize) -> Option<Range<usize>> {
        let s = self.skip_punct(s, e);
        let e = self.trim_end(s, e);
        (s < e && self.words_in(s..e) >= 2).then(|| self.text_of(s, e))
    }

    /// The quotation that is exactly tokens `s..e` (marks included), if any.
    fn whole_quote(&self, s: usize, e: usize) -> Option<usize> {
        if s >= e {
            return None;
        }
        let tokens = self.tokens();
        let e = self.trim_end(s, e);
        let start = tokens[s].start;
        let end = tokens[e.max(s + 1) - 1].end;
        self.a.quotes.iter().position(|q| {
            q.open == start
                && (q.end == end
                    || tokens[s..e]
                        .iter()
                        .filter(|t| t.start >= q.end)
                        .all(|t| !t.word))
        })
    }

    /// A quotation that ends right before token `at` (only punctuation between).
    fn quote_ending_before(&self, at: usize, s: usize) -> Option<usize> {
        let tokens = self.tokens();
        let mut j = at;
        while j > s {
            let t = &tokens[j - 1];
            if let Some(q) = self
                .a
                .quotes
                .iter()
                .position(|q| q.end == t.end && q.inner.end <= t.start)
            {
                let words = self.quote_words(q);
                return (words >= 2).then_some(q);
            }
            // Titles between the quotation and the name ("…," German Chancellor Olaf Scholz said).
            let title_like = t.word
                && at - j < 5
                && (t.text == "the" || t.capitalized || is_title_word(&t.text));
            if !(title_like || matches!(t.text.as_str(), "," | ":") || is_dash(&t.text)) {
                return None;
            }
            j -= 1;
        }
        None
    }

    /// A quotation that starts right after token `at` (skipping the given tokens).
    fn quote_starting_after(&self, at: usize, e: usize, skip: &[&str]) -> Option<usize> {
        let tokens = self.tokens();
        let mut j = at;
        while j < e {
            if let Some(q) = self.a.quotes.iter().position(|q| q.open == tokens[j].start) {
                return Some(q);
            }
            if !skip.contains(&tokens[j].text.as_str()) {
                return None;
            }
            j += 1;
        }
        // The quotation may begin the next sentence of the paragraph ("A," he said. "B.").
        None
    }

    /// The speaker right before a cue: a name, a pronoun or a role ("the chancellor").
    fn subject_before(&self, k: usize, s: usize) -> Option<Speaker> {
        let tokens = self.tokens();
        let mut j = k;
        let mut skipped = 0;
        while j > s {
            let t = &tokens[j - 1];
            if t.quote.is_some() || self.consumed[j - 1] {
                return None;
            }
            if let Some(m) = self.people.mention_at(j - 1) {
                if m.tokens.end != j || self.inside_phrase(m.tokens.start) {
                    return None;
                }
                return Some(Speaker {
                    entity: m.entity,
                    role: m.title.clone(),
                    tokens: m.tokens.clone(),
                });
            }
            if matches!(
                t.text.as_str(),
                "he" | "she" | "він" | "вона" | "он" | "она"
            ) {
                let female = pronoun(&t.text).flatten();
                let entity = self.resolve_pronoun(female, j - 1, self.sentence)?;
                return Some(Speaker {
                    entity,
                    role: None,
                    tokens: j - 1..j,
                });
            }
            if let Some((range, key)) = self.role_noun_ending_at(j, s) {
                let entity = self.resolve_role_key(key, range.start)?;
                let written = self.doc[self.text_of(range.start, range.end)].to_string();
                return Some(Speaker {
                    entity,
                    role: Some(written),
                    tokens: range,
                });
            }
            if t.text == "," {
                // An apposition: "Mark Rutte, the NATO chief, said", "Oksana Shvets, 54,
                // who lives nearby, said".
                // "The US secretary of state, Antony Blinken, called ...": the name itself.
                if let Some(m) = (j - 1)
                    .checked_sub(1)
                    .and_then(|x| self.people.mention_at(x))
                    && m.tokens.end == j - 1
                    && m.tokens.start > s
                    && tokens[m.tokens.start - 1].text == ","
                {
                    return Some(Speaker {
                        entity: m.entity,
                        role: m.title.clone(),
                        tokens: m.tokens.clone(),
                    });
                }
                let floor = j.saturating_sub(20).max(s);
                let commas = (floor..j - 1)
                    .rev()
                    .filter(|&c| tokens[c].text == ",")
                    .take(3);
                for comma in commas {
                    if (comma..j).any(|x| tokens[x].quote.is_some() || self.cue_at(x, j).is_some())
                    {
                        return None;
                    }
                    if let Some(m) = comma.checked_sub(1).and_then(|x| self.people.mention_at(x))
                        && m.tokens.end == comma
                    {
                        return Some(Speaker {
                            entity: m.entity,
                            role: m.title.clone(),
                            tokens: m.tokens.clone(),
                        });
                    }
                }
                return None;
            }
            let skippable = lexicon::is_skippable(&t.text)
                || (t.word && t.text.ends_with("ly") && t.text.len() > 4);
            if !skippable || skipped >= 6 {
                return None;
            }
            skipped += 1;
            j -= 1;
        }
        None
    }

    /// The subject at the start of the sentence when words come between it and the cue
    /// ("Трамп после переговоров с Путиным заявил", "Putin, speaking first, said").
    fn sentence_subject(&self, k: usize, s: usize, e: usize) -> Option<Speaker> {
        let tokens = self.tokens();
        let start = (s..k.min(s + 8)).find(|&t| {
            self.people
                .mention_at(t)
                .is_some_and(|m| m.tokens.start == t)
        })?;
        if (s..start).any(|i| !tokens[i].word || tokens[i].quote.is_some() || self.consumed[i]) {
            return None;
        }
        let mut m = self.people.mention_at(start)?.clone();
        // "Президент США Дональд Трамп": the last of adjacent mentions.
        while let Some(next) = self.people.mention_at(m.tokens.end)
            && next.tokens.start == m.tokens.end
            && next.entity == m.entity
        {
            m = next.clone();
        }
        let gap = m.tokens.end..k;
        if gap.is_empty() || gap.len() > 12 {
            return None;
        }
        let first = &tokens[gap.start];
        // "Зеленський виступив на конференції і закликав ...": a second predicate.
        let coordinated = k > 0
            && matches!(
                tokens[k - 1].text.as_str(),
                "and" | "і" | "та" | "й" | "и" | "а также" | "також"
            );
        let opens_phrase = coordinated
            || PREPOSITIONS.contains(&first.text.as_str())
            || first.text == ","
            || matches!(
                first.text.as_str(),
                "with"
                    | "from"
                    | "при"
                    | "после"
                    | "після"
                    | "выступая"
                    | "виступаючи"
                    | "speaking"
            );
        let clean = tokens[gap.clone()].iter().enumerate().all(|(i, t)| {
            t.quote.is_none()
                && !THAT.contains(&t.text.as_str())
                && self.cue_at(gap.start + i, e).is_none()
                && !matches!(t.text.as_str(), "." | ";" | "'s")
        });
        (opens_phrase && clean).then(|| Speaker {
            entity: m.entity,
            role: m.title.clone(),
            tokens: m.tokens.clone(),
        })
    }

    /// Whether a mention is the complement of a preposition or an institution ("В Офисе
    /// президента назвали", "the president's office said"): not a subject.
    fn inside_phrase(&self, start: usize) -> bool {
        let Some(before) = start.checked_sub(1).map(|i| &self.tokens()[i]) else {
            return false;
        };
        PREPOSITIONS.contains(&before.text.as_str())
            || matches!(
                before.text.as_str(),
                "офис"
                    | "офисе"
                    | "офіс"
                    | "офісі"
                    | "офісу"
                    | "офиса"
                    | "офісом"
                    | "офисом"
                    | "пресс-служба"
                    | "пресс-службе"
                    | "пресс-службы"
                    | "прес-служба"
                    | "прес-службі"
                    | "прес-служби"
                    | "администрации"
                    | "администрация"
                    | "адміністрації"
                    | "адміністрація"
                    | "of"
                    | "для"
                    | "з"
                    | "с"
                    | "від"
                    | "от"
                    | "про"
                    | "о"
                    | "об"
            )
    }

    /// Records that `entity` was named in an oblique case at `tokens` ("за словами Тараса
    /// X", "поговорили з Тарасом X"): it is then displayed in its base form, and its gender
    /// is guessed from that form — given names in -а (Тараса, Глеба) look feminine as
    /// written, which would send a later "він"/"он" elsewhere.
    fn named_in_case(&mut self, entity: usize, tokens: Range<usize>, case: Case) {
        let written = self.doc[self.text_of(tokens.start, tokens.end)].to_string();
        let entity = &mut self.people.entities[entity];
        entity.oblique = Some(case);
        if entity.person.is_none() && entity.subject_forms.is_empty() {
            entity.female = mentions::guess_female(&mentions::base_form(&written, case));
        }
    }

    /// Learns the gender of a person named without one from the verb of saying they are the
    /// subject of: Ukrainian and Russian past tenses agree with it ("Мельничук повідомив",
    /// "Данилюк сказала"), so a later "вона"/"она" does not go to a man whose name told
    /// nothing.
    fn learn_gender(&mut self, entity: usize, verb: usize) {
        let word = self.tokens()[verb].text.as_str();
        let word = word
            .strip_suffix("ся")
            .or_else(|| word.strip_suffix("сь"))
            .unwrap_or(word);
        let female = if word.ends_with("ла") {
            Some(true)
        } else if word.ends_with('в') || word.ends_with('л') {
            Some(false)
        } else {
            None
        };
        let entity = &mut self.people.entities[entity];
        if entity.person.is_none() && entity.female.is_none() && female.is_some() {
            entity.female = female;
        }
    }

    /// Whether token `at` is a comma with a title word after it: the titles either side are
    /// in apposition ("политолога, доцента МГИМО X") and the name follows the second.
    fn comma_before_title(&self, at: usize) -> bool {
        let tokens = self.tokens();
        tokens[at].text == ","
            && tokens
                .get(at + 1)
                .is_some_and(|n| n.word && is_title_word(&n.text))
    }

    /// The speaker after a cue (inverted order, "according to X").
    fn speaker_after(&self, from: usize, e: usize, oblique: bool) -> Option<Speaker> {
        let tokens = self.tokens();
        let mut j = from;
        let mut steps = 0;
        let mut seen_title = false;
        while j < e && steps < 8 {
            let t = &tokens[j];
            let quoted = t
                .quote
                .or_else(|| self.a.quotes.iter().position(|q| q.open == t.start));
            if let Some(q) = quoted {
                // A short quoted name inside a title: глава фракции «Слуга народа» X.
                let quote = &self.a.quotes[q];
                let words = self.quote_words(q);
                if !seen_title || words > 4 {
                    return None;
                }
                while j < e && tokens[j].start < quote.end {
                    j += 1;
                }
                continue;
            }
            if let Some(m) = self.people.mention_at(j) {
                let title = m.title.clone().or_else(|| {
                    (j > from).then(|| self.doc[self.text_of(from, j)].trim().to_string())
                });
                return Some(Speaker {
                    entity: m.entity,
                    role: title.filter(|t| !t.is_empty() && t.chars().any(char::is_alphabetic)),
                    tokens: m.tokens.clone(),
                });
            }
            // "said he." is inverted; "said she woke up" is not: she is in the content.
            let english = matches!(t.text.as_str(), "he" | "she");
            let ends = tokens
                .get(j + 1)
                .is_none_or(|n| matches!(n.text.as_str(), "." | "," | ";"));
            if matches!(
                t.text.as_str(),
                "he" | "she" | "він" | "вона" | "он" | "она"
            ) && (!english || ends)
            {
                let female = pronoun(&t.text).flatten();
                let entity = self.resolve_pronoun(female, j, self.sentence)?;
                return Some(Speaker {
                    entity,
                    role: None,
                    tokens: j..j + 1,
                });
            }
            if let Some((range, key)) = self.role_noun_starting_at(j, e, oblique) {
                // A role followed by a name: the name decides. The name may follow a second
                // title in apposition ("по словам политолога, доцента МГИМО X").
                let name = (range.end..e.min(range.end + 8))
                    .take_while(|&x| {
                        tokens[x].word
                            || tokens[x].quote.is_some()
                            || self.is_open_mark(x)
                            || !matches!(tokens[x].text.as_str(), "," | "." | ";" | ":")
                            || self.comma_before_title(x)
                    })
                    .find_map(|x| self.people.mention_at(x));
                if let Some(m) = name {
                    return Some(Speaker {
                        entity: m.entity,
                        role: Some(self.doc[self.text_of(range.start, range.end)].to_string()),
                        tokens: m.tokens.clone(),
                    });
                }
                let entity = self.resolve_role_key(key, j)?;
                return Some(Speaker {
                    entity,
                    role: Some(self.doc[self.text_of(range.start, range.end)].to_string()),
                    tokens: range,
                });
            }
            // Titles in apposition: "по словам экономиста, профессора ВШЭ X", "according to
            // economist, professor X" — a comma between a title and another title.
            if seen_title && self.comma_before_title(j) {
                j += 1;
                steps += 1;
                continue;
            }
            seen_title |= t.word && is_title_word(&t.text);
            let passable = t.word
                && (is_title_word(&t.text)
                    || matches!(t.text.as_str(), "the" | "by" | "of" | "'s")
                    || !t.capitalized
                    || seen_title
                    // An institution's acronym in the title: "доцента МГИМО X", "IAEA chief X".
                    || super::mentions::is_acronym(self.doc, t));
            if !(passable || t.text == "'s") {
                return None;
            }
            j += 1;
            steps += 1;
        }
        None
    }

    /// "the minister", "the German chancellor", "Президент" ending at token `j` (exclusive).
    fn role_noun_ending_at(&self, j: usize, s: usize) -> Option<(Range<usize>, &'static str)> {
        let tokens = self.tokens();
        for (noun, key) in ROLE_NOUNS {
            let words: Vec<&str> = noun.split(' ').collect();
            let n = words.len();
            if j < s + n {
                continue;
            }
            let folded: Vec<String> = words.iter().map(|w| fold_str(w)).collect();
            if !tokens[j - n..j]
                .iter()
                .zip(&folded)
                .all(|(t, w)| t.text == *w)
            {
                continue;
            }
            let start = j - n;
            let cyrillic = folded[0]
                .chars()
                .next()
                .is_some_and(|c| ('а'..='я').contains(&c));
            if cyrillic {
                return Some((start..j, key));
            }
            // English needs "the" before it, maybe with adjectives ("the German chancellor").
            let mut b = start;
            while b > s && start - b < 4 {
                let t = &tokens[b - 1];
                if t.text == "the" {
                    return Some((b - 1..j, key));
                }
                // Adjectives and nouns before it: "the intelligence chief".
                if !t.word
                    || self.cue_at(b - 1, j).is_some()
                    || self.people.mention_at(b - 1).is_some()
                {
                    break;
                }
                b -= 1;
            }
        }
        None
    }

    /// A role noun starting at token `j` ("the minister", "міністра" when oblique).
    fn role_noun_starting_at(
        &self,
        j: usize,
        e: usize,
        oblique: bool,
    ) -> Option<(Range<usize>, &'static str)> {
        let tokens = self.tokens();
        let start = if tokens[j].text == "the" { j + 1 } else { j };
        for (noun, key) in lexicon::role_nouns() {
            let words: Vec<&str> = noun.split(' ').collect();
            let n = words.len();
            if start + n > e {
                continue;
            }
            let ok = tokens[start..start + n]
                .iter()
                .zip(&words)
                .all(|(t, w)| t.text == *w || (oblique && lexicon::inflected_form(&t.text, w)));
            if ok {
                return Some((j..start + n, *key));
            }
        }
        None
    }

    /// The most recent person before token `at` whose titles carry a role key.
    fn resolve_role_key(&self, key: &str, at: usize) -> Option<usize> {
        // "the official", "посадовець": whoever spoke last, if lately.
        if key == "official" {
            return self
                .drafts
                .last()
                .filter(|d| self.sentence.saturating_sub(d.sentence) <= 3)
                .map(|d| d.entity);
        }
        let candidates = || {
            self.people
                .mentions
                .iter()
                .rev()
                .filter(move |m| m.tokens.end <= at)
                .filter(|m| self.people.entities[m.entity].role_keys.contains(&key))
        };
        // People named as subjects first, then those in a complement ("з Трампом").
        candidates()
            .find(|m| !self.inside_phrase(m.tokens.start))
            .or_else(|| candidates().next())
            .map(|m| m.entity)
            .or_else(|| {
                // Nobody is known with that title: a follow-up names the current speaker
                // ("the intelligence chief said" right after his words).
                self.drafts
                    .last()
                    .filter(|d| self.sentence.saturating_sub(d.sentence) <= 2)
                    .map(|d| d.entity)
            })
    }

    /// Who "he"/"she"/"його"/"его" refers to at token `at` of sentence `index`.
    fn resolve_pronoun(&self, female: Option<bool>, at: usize, index: usize) -> Option<usize> {
        let compatible = |entity: usize| {
            let e = &self.people.entities[entity];
            female.is_none() || e.female.is_none() || e.female == female
        };
        let tokens = self.tokens();
        let last = self.drafts.last().filter(|d| compatible(d.entity));
        // The subject of the previous sentence, when it made no statement.
        if let Some(previous) = index.checked_sub(1) {
            let mut range = self.a.sentences[previous].tokens.clone();
            // "Asked whether the chancellor had promised X, Kornelius declined": the subject
            // comes after the clause that opens the sentence.
            if CLAUSE_OPENERS.contains(&tokens[range.start].text.as_str())
                && let Some(comma) = range.clone().find(|&t| tokens[t].text == ",")
            {
                range.start = comma + 1;
            }
            let spoke = self.drafts.iter().any(|d| d.sentence == previous);
            if !spoke {
                let subject = (range.start..range.end.min(range.start + 8))
                    .filter(|t| tokens[*t].quote.is_none())
                    .find_map(|t| self.people.mention_at(t))
                    .filter(|m| compatible(m.entity));
                if let Some(m) = subject
                    && last.is_none_or(|d| index - d.sentence > 1 || d.entity == m.entity)
                {
                    return Some(m.entity);
                }
            }
        }
        if let Some(d) = last
            && index.saturating_sub(d.sentence) <= 4
        {
            return Some(d.entity);
        }
        let recent = self
            .people
            .mentions
            .iter()
            .rev()
            .filter(|m| m.tokens.end <= at && compatible(m.entity))
            .find(|m| tokens[m.tokens.start].quote.is_none() && !self.inside_phrase(m.tokens.start))
            .map(|m| m.entity);
        if recent.is_some() {
            return recent;
        }
        if let Some(d) = last {
            return Some(d.entity);
        }
        // No antecedent in the text (a stored copy without its headline): the person the
        // article is most about.
        let mut counts: Vec<(usize, usize, usize)> = Vec::new();
        for (order, m) in self.people.mentions.iter().enumerate() {
            if !compatible(m.entity) || self.people.entities[m.entity].person.is_none() {
                continue;
            }
            match counts.iter_mut().find(|(e, _, _)| *e == m.entity) {
                Some(c) => c.1 += 1,
                None => counts.push((m.entity, 1, order)),
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .map(|(e, _, _)| e)
    }

    fn draft(
        &self,
        index: usize,
        speaker: Speaker,
        pieces: Vec<Range<usize>>,
        direct: bool,
    ) -> Option<Draft> {
        let pieces: Vec<Range<usize>> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
        let first = pieces.first()?;
        let words: usize = pieces
            .iter()
            .map(|p| self.doc[p.clone()].split_whitespace().count())
            .sum();
        if words < 2 {
            return None;
        }
        let tokens = self.tokens();
        let paragraph = tokens
            .get(tokens.partition_point(|t| t.start < first.start))
            .map_or(0, |t| t.paragraph);
        Some(Draft {
            entity: speaker.entity,
            role: speaker.role,
            kind: if direct {
                StatementKind::Direct
            } else {
                StatementKind::Reported
            },
            pieces,
            sentence: index,
            paragraph,
        })
    }

    /// "Quote: “…”" after a "Source:" label.
    fn quote_block(&mut self, index: usize, s: usize, e: usize) {
        let Some(entity) = self.source.or_else(|| self.drafts.last().map(|d| d.entity)) else {
            return;
        };
        let content = match self.whole_quote(s, e) {
            Some(q) => self.a.quotes[q].inner.clone(),
            None => match self.clause(s, e) {
                Some(range) => range,
                None => return,
            },
        };
        let speaker = Speaker::unnamed(entity, s);
        if let Some(draft) = self.draft(index, speaker, vec![content], true) {
            self.drafts.push(draft);
        }
    }

    /// "Rutte: NATO must ..." and "«Quote»: що сказав X" / "«Quote» – X" headlines.
    fn title_colon(&mut self, index: usize, s: usize, e: usize, body: bool) {
        let tokens = self.tokens();
        let leading_quote = self.a.quotes.iter().position(|q| q.open == tokens[s].start);
        if let Some(q) = leading_quote.filter(|_| !body) {
            let quote = &self.a.quotes[q];
            let after = (s..e).find(|&t| tokens[t].start >= quote.end).unwrap_or(e);
            let separated = tokens
                .get(after)
                .is_some_and(|t| t.text == ":" || t.text == "," || is_dash(&t.text));
            let speaker = (after..e).find_map(|t| self.people.mention_at(t).cloned());
            if separated && let Some(m) = speaker {
                let speaker = Speaker {
                    entity: m.entity,
                    role: m.title.clone(),
                    tokens: m.tokens.clone(),
                };
                if let Some(draft) = self.draft(index, speaker, vec![quote.inner.clone()], true) {
                    for t in s..e {
                        self.consumed[t] = true;
                    }
                    self.drafts.push(draft);
                }
                return;
            }
        }
        let Some(m) = self.people.mention_at(s).cloned() else {
            return;
        };
        if m.tokens.start != s {
            return;
        }
        // "Rutte: ..." or "Рютте про переговори: «...»" (a topic, then the quotation).
        let colon = (m.tokens.end..e.min(m.tokens.end + 7))
            .take_while(|&t| tokens[t].quote.is_none() && self.cue_at(t, e).is_none())
            .find(|&t| tokens[t].text == ":");
        let Some(colon) = colon else {
            return;
        };
        if (colon > m.tokens.end || body) && self.whole_quote(colon + 1, e).is_none() {
            return;
        }
        let from = colon + 1;
        let content = match self.whole_quote(from, e) {
            Some(q) => self.a.quotes[q].inner.clone(),
            None => match self.clause(from, e) {
                Some(range) => range,
                None => return,
            },
        };
        let speaker = Speaker {
            entity: m.entity,
            role: m.title.clone(),
            tokens: m.tokens.clone(),
        };
        if let Some(draft) = self.draft(index, speaker, vec![content], true) {
            for t in from..e {
                self.consumed[t] = true;
            }
            self.drafts.push(draft);
        }
    }

    /// A paragraph that is a quotation with no cue goes on with the last speaker's words.
    fn continuation(&mut self, index: usize, s: usize, e: usize) {
        let tokens = self.tokens();
        let Some(last) = self.drafts.last() else {
            return;
        };
        // "– Text, – сказав він. – More text." : the same utterance goes on after the cue.
        if is_dash(&tokens[s].text)
            && last.sentence + 1 == index
            && last.kind == StatementKind::Direct
            && tokens[s].paragraph == last.paragraph
            && self.words_in(s..e) >= 2
            && let Some(piece) = self.clause(s, e)
        {
            let last = self.drafts.len() - 1;
            self.drafts[last].pieces.push(piece);
            return;
        }
        let paragraph = tokens[s].paragraph;
        let first_of_paragraph = s == 0 || tokens[s - 1].paragraph != paragraph;
        if !first_of_paragraph
            || paragraph > last.paragraph + 1
            || paragraph == last.paragraph && last.sentence + 1 != index
        {
            return;
        }
        let Some(q) = self.whole_quote(s, e) else {
            return;
        };
        if self.words_in(s..e) < 4 {
            return;
        }
        // Someone else named outside the quotation breaks the chain.
        let quote = &self.a.quotes[q];
        if (s..e).any(|t| tokens[t].start >= quote.end && self.people.mention_at(t).is_some()) {
            return;
        }
        let speaker = Speaker::unnamed(last.entity, s);
        if let Some(draft) = self.draft(index, speaker, vec![quote.inner.clone()], true) {
            self.drafts.push(draft);
        }
    }

    fn finish(self) -> Vec<Statement> {
        let mut out: Vec<Statement> = Vec::new();
        for draft in &self.drafts {
            let text = draft
                .pieces
                .iter()
                .map(|p| self.doc[p.clone()].trim())
                .collect::<Vec<_>>()
                .join(" ... ");
            let speaker = self.people.name(self.registry, draft.entity);
            if speaker.is_empty() {
                continue;
            }
            let statement = Statement {
                person: self.people.entities[draft.entity].person,
                speaker,
                role: draft
                    .role
                    .clone()
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty()),
                kind: draft.kind,
                text,
                start: draft.pieces[0].start,
                end: draft.pieces[draft.pieces.len() - 1].end,
            };
            if out
                .iter()
                .any(|o| o.speaker == statement.speaker && o.text == statement.text)
            {
                continue;
            }
            out.push(statement);
        }
        out
    }
}

mod interview;

#[cfg(test)]
mod tests;
