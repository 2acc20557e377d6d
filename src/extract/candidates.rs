//! Alternative main-text candidates to judge readability's choice against: the element the
//! page marks as the body (`itemprop=articleBody`), the block with the most paragraph prose
//! (the parent of the most text in `<p>` children, links not counted), and, as a last
//! resort, the whole cleaned page.

use std::collections::HashMap;

use dom_query::{Document, NodeId, NodeRef};

use super::render::{self, link_density};

/// A candidate text and how it was found.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// What found it, for logs and tests.
    pub strategy: &'static str,
    /// The rendered text.
    pub text: String,
}

/// The element the page itself marks as the article body, rendered.
pub fn marked_body(document: &Document) -> Option<Candidate> {
    let marked = document.select("[itemprop~='articleBody'], [itemprop~='articlebody']");
    let nodes = marked.nodes();
    if nodes.len() == 1 {
        let text = render::render(&nodes[0]);
        if !text.is_empty() {
            return Some(Candidate {
                strategy: "itemprop",
                text,
            });
        }
    }
    None
}

/// The block with the most prose in its `<p>` children, rendered.
pub fn densest_block(document: &Document) -> Option<Candidate> {
    let body = document.body()?;
    let mut prose: HashMap<NodeId, usize> = HashMap::new();
    for paragraph in body.descendants_it().filter(|n| n.has_name("p")) {
        let (total, linked) = link_density(&paragraph);
        let own = total.saturating_sub(linked);
        if own < 40 {
            continue;
        }
        if let Some(parent) = paragraph.parent() {
            *prose.entry(parent.id).or_default() += own;
        }
    }
    let (best, _) = prose.iter().max_by_key(|(id, length)| (**length, **id))?;
    let node = NodeRef::new(*best, &document.tree);
    let text = render::render(&node);
    Some(Candidate {
        strategy: "densest",
        text,
    })
    .filter(|c| !c.text.is_empty())
}

/// The whole body of the (cleaned) page, rendered: the last resort for pages without any
/// block of prose (a page of short lines, a table).
pub fn whole_page(document: &Document) -> Option<Candidate> {
    let body = document.body()?;
    let text = render::render(&body);
    Some(Candidate {
        strategy: "page",
        text,
    })
    .filter(|c| !c.text.is_empty())
}
