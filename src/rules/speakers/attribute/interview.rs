//! Interviews in question-and-answer form: after an intro that names the interviewee ("ми
//! запитали у аналітика Тараса Бондарчука", "в интервью рассказал X", "we asked X"), the
//! turns are paragraphs led by a dash, the interviewer's and the interviewee's in turn, or
//! labelled "Q:" and "A:" ("Питання:"/"Відповідь:", "Вопрос:"/"Ответ:"), without quotation
//! marks or verbs of saying. Every answer is the interviewee's direct speech, one statement
//! per paragraph; people the interviewee quotes inside an answer are not speakers.

use std::ops::Range;

use super::{Attributor, Draft, is_dash};
use crate::rules::speakers::StatementKind;
use crate::rules::speakers::mentions::Case;

/// Stems of the words an interview's intro uses (folded, lower case).
const INTRO_STEMS: &[&str] = &[
    "запита",
    "спита",
    "поговори",
    "поспілкува",
    "пообща",
    "побесед",
    "розмов",
    "інтерв",
    "интерв",
    "бесед",
    "спросил",
    "interview",
    "asked",
];

/// An interview found in the text: the statements of its answers and the sentences it spans.
pub(super) struct Interview {
    /// The first sentence of the first question: the answers are emitted when attribution
    /// reaches it, so the statements keep the document's order.
    pub(super) first_sentence: usize,
    /// Every sentence of the exchange (questions included): nothing else is attributed there.
    pub(super) sentences: Range<usize>,
    pub(super) answers: Vec<Draft>,
    pub(super) interviewee: usize,
    /// The interviewee's name and its case, when the intro gives it in the genitive
    /// ("запитали у X") or the instrumental ("поговорили з X").
    pub(super) oblique_name: Option<(Range<usize>, Case)>,
}

/// Prepositions with the genitive right after an intro's verb: "запитали у X", "спросили у X".
const GENITIVE_AFTER_INTRO: &[&str] = &["у", "в", "від", "от"];

/// Prepositions with the instrumental right after an intro's verb: "поговорили з X",
/// "побеседовали с X".
const INSTRUMENTAL_AFTER_INTRO: &[&str] = &["з", "із", "зі", "с", "со"];

/// Labels of a question paragraph ("Q: ...", folded), each followed by a colon.
const QUESTION_LABELS: &[&str] = &["q", "question", "питання", "вопрос"];

/// Labels of an answer paragraph ("A: ...").
const ANSWER_LABELS: &[&str] = &["a", "answer", "відповідь", "ответ"];

/// A paragraph, as the sentences and tokens it holds.
struct Paragraph {
    sentences: Range<usize>,
    tokens: Range<usize>,
    dashed: bool,
    question: bool,
    /// The turn a "Q:" or "A:" label at its start gives it.
    label: Option<Turn>,
}

impl Paragraph {
    /// Where the paragraph's own words start, after its dash or label.
    fn words_start(&self) -> usize {
        match (self.label, self.dashed) {
            (Some(_), _) => self.tokens.start + 2,
            (None, true) => self.tokens.start + 1,
            (None, false) => self.tokens.start,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Interviewer,
    Answer,
    /// A paragraph without a dash right after an answer, while the exchange goes on.
    Continued,
}

impl Attributor<'_> {
    fn paragraphs(&self) -> Vec<Paragraph> {
        let tokens = self.tokens();
        let sentences = &self.a.sentences;
        let mut out: Vec<Paragraph> = Vec::new();
        for (index, sentence) in sentences.iter().enumerate() {
            if sentence.tokens.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some(last)
                    if tokens[last.tokens.start].paragraph
                        == tokens[sentence.tokens.start].paragraph =>
                {
                    last.sentences.end = index + 1;
                    last.tokens.end = sentence.tokens.end;
                }
                _ => out.push(Paragraph {
                    sentences: index..index + 1,
                    tokens: sentence.tokens.clone(),
                    dashed: false,
                    question: false,
                    label: None,
                }),
            }
        }
        for p in &mut out {
            p.dashed = is_dash(&tokens[p.tokens.start].text);
            p.question = tokens[p.tokens.end - 1].text == "?";
            let first = tokens[p.tokens.start].text.as_str();
            let colon = p.tokens.len() > 2 && tokens[p.tokens.start + 1].text == ":";
            p.label = if colon && QUESTION_LABELS.contains(&first) {
                Some(Turn::Interviewer)
            } else if colon && ANSWER_LABELS.contains(&first) {
                Some(Turn::Answer)
            } else {
                None
            };
        }
        out
    }

    /// Interviews in the text (see the module documentation).
    pub(super) fn interviews(&self) -> Vec<Interview> {
        let paragraphs = self.paragraphs();
        let tokens = self.tokens();
        let mut found = Vec::new();
        let mut i = 1;
        while i < paragraphs.len() {
            let intro = &paragraphs[i - 1];
            let first = &paragraphs[i];
            let opens = (first.dashed && first.question) || first.label == Some(Turn::Interviewer);
            let intro_word = (opens && !intro.dashed && intro.label.is_none())
                .then(|| {
                    intro.tokens.clone().find(|&t| {
                        tokens[t].word
                            && INTRO_STEMS
                                .iter()
                                .any(|stem| tokens[t].text.starts_with(stem))
                    })
                })
                .flatten();
            let named = intro_word.and_then(|_| {
                self.people.mentions.iter().rev().find(|m| {
                    m.is_name
                        && intro.tokens.start <= m.tokens.start
                        && m.tokens.end <= intro.tokens.end
                })
            });
            let (Some(word), Some(named)) = (intro_word, named) else {
                i += 1;
                continue;
            };
            let interviewee = named.entity;
            let oblique_name = tokens.get(word + 1).and_then(|t| {
                let case = if GENITIVE_AFTER_INTRO.contains(&t.text.as_str()) {
                    Case::Genitive
                } else if INSTRUMENTAL_AFTER_INTRO.contains(&t.text.as_str()) {
                    Case::Instrumental
                } else {
                    return None;
                };
                Some((named.tokens.clone(), case))
            });
            // Walk the turns: a labelled paragraph is what its label says; a dash paragraph
            // after the interviewer's is the answer, after an answer the interviewer's again;
            // a paragraph without either continues an answer only if the exchange goes on
            // after it.
            let labelled = first.label.is_some();
            let mut turns: Vec<(usize, Turn)> = Vec::new();
            let mut pending: Vec<usize> = Vec::new();
            let mut questions = 0;
            let mut last = Turn::Answer;
            let mut j = i;
            while j < paragraphs.len() {
                let p = &paragraphs[j];
                if let (true, Some(turn)) = (labelled, p.label) {
                    turns.extend(pending.drain(..).map(|k| (k, Turn::Continued)));
                    questions += usize::from(turn == Turn::Interviewer);
                    last = turn;
                    turns.push((j, last));
                } else if p.dashed && !labelled {
                    turns.extend(pending.drain(..).map(|k| (k, Turn::Continued)));
                    last = if last == Turn::Interviewer {
                        Turn::Answer
                    } else {
                        questions += usize::from(p.question);
                        Turn::Interviewer
                    };
                    turns.push((j, last));
                } else if last != Turn::Interviewer {
                    pending.push(j);
                    last = Turn::Continued;
                } else {
                    break;
                }
                j += 1;
            }
            // The first question is always a turn.
            let end = turns.last().map_or(i, |&(k, _)| k);
            if questions < 2 {
                i = end + 1;
                continue;
            }
            let answers = turns
                .iter()
                .filter(|(_, turn)| *turn != Turn::Interviewer)
                .filter_map(|&(k, _)| {
                    let p = &paragraphs[k];
                    let from = p.words_start();
                    // As for any statement: at least two words.
                    (self.words_in(from..p.tokens.end) >= 2).then(|| Draft {
                        entity: interviewee,
                        role: None,
                        kind: StatementKind::Direct,
                        pieces: vec![self.text_of(from, p.tokens.end)],
                        sentence: p.sentences.start,
                        paragraph: tokens[p.tokens.start].paragraph,
                    })
                })
                .collect();
            found.push(Interview {
                first_sentence: first.sentences.start,
                sentences: first.sentences.start..paragraphs[end].sentences.end,
                answers,
                interviewee,
                oblique_name,
            });
            i = end + 1;
        }
        found
    }
}
