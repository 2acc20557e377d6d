use super::*;

fn error(query: &str) -> QueryError {
    match parse(query) {
        Ok(node) => panic!("{query:?} parsed as {node:?}"),
        Err(e) => e,
    }
}

#[test]
fn parses_operators_with_precedence() -> Result<(), QueryError> {
    let node = parse("peace OR talks AND NOT war")?;
    let NodeKind::Or(children) = node.kind else {
        panic!("expected OR at the top");
    };
    assert_eq!(children.len(), 2);
    assert!(matches!(children[1].kind, NodeKind::And(_)));
    let node = parse("title:(Rutte OR Рютте) \"peace talks\" negotiat*")?;
    let NodeKind::And(children) = node.kind else {
        panic!("expected implicit AND");
    };
    assert_eq!(children.len(), 3);
    assert!(matches!(
        &children[0].kind,
        NodeKind::Or(terms) if matches!(&terms[0].kind, NodeKind::Term { fields, .. } if *fields == FieldSet::only(Field::Title))
    ));
    assert!(matches!(
        &children[2].kind,
        NodeKind::Term { words, .. } if words[0].prefix && words[0].text == "negotiat"
    ));
    let node = parse("Rutte NEAR/5 (talks OR переговор*)")?;
    assert!(matches!(node.kind, NodeKind::Near { distance: 5, .. }));
    let node = parse("url:https://www.nato.int/x tag:official /cease-?fire/i")?;
    assert!(matches!(&node.kind, NodeKind::And(c) if c.len() == 3));
    Ok(())
}

#[test]
fn errors_point_at_the_problem() {
    let e = error("peace AND (talks OR");
    assert_eq!(e.message, "OR needs a clause after it");
    assert_eq!(e.span, 17..19);
    let e = error("peace AND (talks");
    assert_eq!(e.message, "this parenthesis is never closed");
    assert_eq!(e.span, 10..11);
    let e = error("\"peace talks");
    assert_eq!(e.span, 0..1);
    assert_eq!(error("peace or talks").span, 6..8);
    assert_eq!(error("titel:peace").span, 0..5);
    assert!(
        error("titel:peace")
            .help
            .unwrap_or_default()
            .contains("title:")
    );
    assert_eq!(error("ne* talks").span, 0..3);
    assert_eq!(error("neg*tiate").message, "a wildcard can only end a word");
    assert_eq!(
        error("NOT war").message,
        "this query matches articles by what they do not contain only"
    );
    assert_eq!(
        error("a NEAR talks").message,
        "NEAR needs a distance in words (0 to 1000)"
    );
    assert!(
        error("/[a-/")
            .message
            .starts_with("invalid regular expression")
    );
    assert_eq!(error("peace )").message, "unmatched closing parenthesis");
    assert_eq!(
        error("(peace AND NOT war) NEAR/3 x").message,
        "NEAR works on words and phrases only"
    );
    assert_eq!(
        error("\"Зеленськ* сказав\" AND ").message,
        "AND needs a clause after it"
    );
}

#[test]
fn nesting_is_bounded_instead_of_overflowing_the_stack() {
    let at_limit = format!(
        "{}peace{}",
        "(".repeat(MAX_NESTING),
        ")".repeat(MAX_NESTING)
    );
    assert!(parse(&at_limit).is_ok());
    let too_deep = format!(
        "{}peace{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let e = error(&too_deep);
    assert!(e.message.contains("nests"), "{}", e.message);
    // The error points at the parenthesis one level too deep.
    assert_eq!(e.span, MAX_NESTING..MAX_NESTING + 1);
    let nots = format!("peace AND {}rumour", "NOT ".repeat(5000));
    assert!(error(&nots).message.contains("nests"));
    // Thousands of levels, as a fuzzer writes them, are refused on a small stack too.
    let huge = format!("{}peace{}", "(".repeat(100_000), ")".repeat(100_000));
    let refused = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || parse(&huge).is_err())
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(refused);
}
