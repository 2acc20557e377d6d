//! The people registry: who is who, under which spellings, and who held which office when.
//!
//! A built-in registry (`registry.toml`, compiled into the binary) lists the office holders
//! users ask about first; `[[people]]` entries of the configuration add people or replace a
//! built-in entry with the same id. Roles are identified by their title (case- and
//! diacritic-insensitive); a role in a rule resolves by the article's date.

use std::collections::HashMap;
use std::ops::Range;

use jiff::civil::Date;
use serde::Deserialize;

use super::compile::{Matcher, MatcherBuilder, PatternId};
use super::normalize::fold_str;
use super::query::parser_term_words;
use crate::config::{Config, Diagnostic, Origin, PersonConfig};

/// The built-in registry, as shipped.
pub const BUILTIN: &str = include_str!("registry.toml");

/// A person's grammatical gender, for resolving "he"/"she".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    /// he, він, он
    Male,
    /// she, вона, она
    Female,
}

/// One person of the registry.
#[derive(Debug, Clone)]
pub struct Person {
    /// Stable identifier (`person:<id>` in rules).
    pub id: String,
    /// Canonical name.
    pub name: String,
    /// Gender, when known.
    pub gender: Option<Gender>,
    /// Offices held: role index and dates.
    pub holdings: Vec<Holding>,
}

/// A term of office.
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    /// Index of the role.
    pub role: usize,
    /// First day in office.
    pub from: Option<Date>,
    /// First day out of office.
    pub to: Option<Date>,
}

impl Holding {
    /// Whether the term covers a day.
    pub fn covers(&self, day: Date) -> bool {
        self.from.is_none_or(|from| from <= day) && self.to.is_none_or(|to| day < to)
    }
}

/// A role (office).
#[derive(Debug, Clone)]
pub struct Role {
    /// The title as first written.
    pub title: String,
    /// Every alias (folded, `*` after prefix words).
    pub aliases: Vec<String>,
    /// The role nouns of its title and aliases ("secretary", "chief"), for resolving
    /// follow-ups such as "the secretary general said".
    pub keys: Vec<&'static str>,
    /// Holders: person index and term.
    pub holders: Vec<(usize, Holding)>,
}

/// What an alias pattern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// A person.
    Person(usize),
    /// A role.
    Role(usize),
}

/// The compiled registry.
#[derive(Debug)]
pub struct Registry {
    /// Everyone.
    pub people: Vec<Person>,
    /// Every role.
    pub roles: Vec<Role>,
    by_id: HashMap<String, usize>,
    role_by_name: HashMap<String, usize>,
    /// All aliases of people and roles.
    pub matcher: Matcher,
    /// What each alias pattern names.
    pub named: Vec<Vec<Named>>,
}

/// The registry file format (also what `[[people]]` entries are turned into).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    roles: Vec<RoleDef>,
    #[serde(default)]
    people: Vec<PersonDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleDef {
    title: String,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonDef {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    gender: Option<String>,
    #[serde(default)]
    roles: Vec<HoldingDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldingDef {
    title: String,
    #[serde(default)]
    aliases: Vec<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A problem in a registry entry: where (in the config, when it came from there) and what.
struct Problem {
    origin: Option<(Origin, Range<usize>)>,
    message: String,
    help: Option<String>,
}

/// Expands `{a,b,c}` alternatives: `Зеленськ{ий,ого}` -> `Зеленський`, `Зеленського`.
pub fn expand_alternatives(alias: &str) -> Vec<String> {
    let Some(open) = alias.find('{') else {
        return vec![alias.to_string()];
    };
    let Some(close) = alias[open..].find('}').map(|i| open + i) else {
        return vec![alias.to_string()];
    };
    let head = &alias[..open];
    let tail = &alias[close + 1..];
    alias[open + 1..close]
        .split(',')
        .flat_map(|choice| expand_alternatives(&format!("{head}{}{tail}", choice.trim())))
        .collect()
}

fn parse_date(text: &str) -> Result<Date, String> {
    text.trim()
        .parse::<Date>()
        .map_err(|e| format!("invalid date {text:?}: {e}"))
}

impl Registry {
    /// The built-in registry alone.
    pub fn builtin() -> Result<Registry, String> {
        Self::build(&[]).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| p.message)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The built-in registry with a configuration's `[[people]]` applied.
    pub fn from_config(config: &Config) -> Result<Registry, Vec<Diagnostic>> {
        Self::build(&config.people).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| match p.origin {
                    Some((origin, span)) => config.diagnostic_at(&origin, span, p.message, p.help),
                    None => Diagnostic::whole_file(
                        &config.path,
                        format!("built-in people registry: {}", p.message),
                        p.help,
                    ),
                })
                .collect()
        })
    }

    fn build(configured: &[PersonConfig]) -> Result<Registry, Vec<Problem>> {
        let mut problems = Vec::new();
        let file: RegistryFile = toml::from_str(BUILTIN).map_err(|e| {
            vec![Problem {
                origin: None,
                message: e.to_string(),
                help: None,
            }]
        })?;
        // Config entries replace built-in ones with the same id.
        let mut defs: Vec<(PersonDef, Option<&PersonConfig>)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for person in file.people {
            seen.insert(person.id.clone(), defs.len());
            defs.push((person, None));
        }
        let mut configured_ids: HashMap<String, Range<usize>> = HashMap::new();
        for person in configured {
            let id = person.id.get_ref().trim().to_string();
            if id.is_empty() || id.contains(char::is_whitespace) {
                problems.push(Problem {
                    origin: Some((person.origin.clone(), person.id.span())),
                    message: format!("invalid person id {id:?}"),
                    help: Some("use a short id without spaces, e.g. \"rutte\"".into()),
                });
                continue;
            }
            if configured_ids
                .insert(id.clone(), person.id.span())
                .is_some()
            {
                problems.push(Problem {
                    origin: Some((person.origin.clone(), person.id.span())),
                    message: format!("person id {id:?} is used twice"),
                    help: Some("ids must be unique; merge the two entries".into()),
                });
                continue;
            }
            let def = PersonDef {
                id: id.clone(),
                name: person.name.clone(),
                aliases: person.aliases.iter().map(|a| a.get_ref().clone()).collect(),
                gender: person.gender.clone(),
                roles: person
                    .roles
                    .iter()
                    .map(|r| HoldingDef {
                        title: r.title.get_ref().clone(),
                        aliases: r.aliases.iter().map(|a| a.get_ref().clone()).collect(),
                        from: r.from.as_ref().map(|d| d.get_ref().text()),
                        to: r.to.as_ref().map(|d| d.get_ref().text()),
                    })
                    .collect(),
            };
            match seen.get(&id) {
                Some(&at) => defs[at] = (def, Some(person)),
                None => {
                    seen.insert(id, defs.len());
                    defs.push((def, Some(person)));
                }
            }
        }

        let mut builder = MatcherBuilder::default();
        let mut named: HashMap<PatternId, Vec<Named>> = HashMap::new();
        let mut roles: Vec<Role> = Vec::new();
        let mut role_by_name: HashMap<String, usize> = HashMap::new();
        let add_alias = |builder: &mut MatcherBuilder,
                         named: &mut HashMap<PatternId, Vec<Named>>,
                         alias: &str,
                         what: Named|
         -> Result<(), String> {
            for variant in expand_alternatives(alias) {
                let words = parser_term_words(&variant).map_err(|e| e.message)?;
                let id = builder.add(words);
                let entry = named.entry(id).or_default();
                if !entry.contains(&what) {
                    entry.push(what);
                }
            }
            Ok(())
        };
        let mut role_index = |title: &str, roles: &mut Vec<Role>| -> usize {
            let key = fold_str(title);
            *role_by_name.entry(key).or_insert_with(|| {
                roles.push(Role {
                    title: title.trim().to_string(),
                    aliases: Vec::new(),
                    keys: Vec::new(),
                    holders: Vec::new(),
                });
                roles.len() - 1
            })
        };
        for role in &file.roles {
            let index = role_index(&role.title, &mut roles);
            for alias in std::iter::once(&role.title).chain(&role.aliases) {
                if let Err(message) = add_alias(&mut builder, &mut named, alias, Named::Role(index))
                {
                    problems.push(Problem {
                        origin: None,
                        message: format!("role {:?}: alias {alias:?}: {message}", role.title),
                        help: None,
                    });
                }
            }
        }

        let mut people = Vec::new();
        let mut by_id = HashMap::new();
        for (def, from_config) in defs {
            let index = people.len();
            let at = |span: Option<Range<usize>>| {
                from_config.map(|p| (p.origin.clone(), span.unwrap_or_else(|| p.id.span())))
            };
            let gender = match def.gender.as_deref().map(str::trim) {
                None | Some("") => None,
                Some("f" | "F" | "female") => Some(Gender::Female),
                Some("m" | "M" | "male") => Some(Gender::Male),
                Some(other) => {
                    problems.push(Problem {
                        origin: at(None),
                        message: format!("person {:?}: unknown gender {other:?}", def.id),
                        help: Some("write gender = \"f\" or \"m\", or leave it out".into()),
                    });
                    None
                }
            };
            if def.name.trim().is_empty() {
                problems.push(Problem {
                    origin: at(None),
                    message: format!("person {:?} has an empty name", def.id),
                    help: Some("give the canonical name, e.g. name = \"Mark Rutte\"".into()),
                });
            }
            for (i, alias) in std::iter::once(&def.name).chain(&def.aliases).enumerate() {
                if let Err(message) =
                    add_alias(&mut builder, &mut named, alias, Named::Person(index))
                {
                    let span = from_config
                        .and_then(|p| i.checked_sub(1).and_then(|i| p.aliases.get(i)))
                        .map(|a| a.span());
                    problems.push(Problem {
                        origin: at(span),
                        message: format!("person {:?}: alias {alias:?}: {message}", def.id),
                        help: Some(
                            "an alias is words; `*` may end a word, `{a,b}` lists endings".into(),
                        ),
                    });
                }
            }
            let mut holdings = Vec::new();
            for (i, holding) in def.roles.iter().enumerate() {
                let role_config = from_config.and_then(|p| p.roles.get(i));
                let mut date = |value: &Option<String>, which: &str| -> Option<Date> {
                    let text = value.as_ref()?;
                    match parse_date(text) {
                        Ok(date) => Some(date),
                        Err(message) => {
                            let span = role_config.and_then(|r| {
                                if which == "from" {
                                    r.from.as_ref()
                                } else {
                                    r.to.as_ref()
                                }
                                .map(|s| s.span())
                            });
                            problems.push(Problem {
                                origin: at(span),
                                message: format!("person {:?}: `{which}`: {message}", def.id),
                                help: Some("write dates as \"YYYY-MM-DD\"".into()),
                            });
                            None
                        }
                    }
                };
                let from = date(&holding.from, "from");
                let to = date(&holding.to, "to");
                if let (Some(f), Some(t)) = (from, to)
                    && f >= t
                {
                    problems.push(Problem {
                        origin: at(role_config.map(|r| r.title.span())),
                        message: format!(
                            "person {:?}: role {:?} ends ({t}) before it starts ({f})",
                            def.id, holding.title
                        ),
                        help: Some("`to` is the first day out of office, after `from`".into()),
                    });
                }
                let role = role_index(&holding.title, &mut roles);
                for alias in std::iter::once(&holding.title).chain(&holding.aliases) {
                    if let Err(message) =
                        add_alias(&mut builder, &mut named, alias, Named::Role(role))
                    {
                        problems.push(Problem {
                            origin: at(role_config.map(|r| r.title.span())),
                            message: format!(
                                "role {:?}: alias {alias:?}: {message}",
                                holding.title
                            ),
                            help: None,
                        });
                    }
                }
                let term = Holding { role, from, to };
                roles[role].holders.push((index, term));
                holdings.push(term);
            }
            by_id.insert(def.id.clone(), index);
            people.push(Person {
                id: def.id,
                name: def.name.trim().to_string(),
                gender,
                holdings,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let count = builder.len();
        let matcher = builder.build().map_err(|e| {
            vec![Problem {
                origin: None,
                message: format!("cannot compile the people registry: {e}"),
                help: None,
            }]
        })?;
        let mut named_vec = vec![Vec::new(); count];
        for (id, what) in named {
            named_vec[id as usize] = what;
        }
        let mut role_lookup = HashMap::new();
        for (index, role) in roles.iter().enumerate() {
            role_lookup.insert(fold_str(&role.title), index);
        }
        // Role aliases resolve too ("role:NATO chief").
        for (id, what) in named_vec.iter().enumerate() {
            for w in what {
                if let Named::Role(r) = w {
                    let display = matcher.pattern(id as PatternId).display();
                    roles[*r].aliases.push(display.clone());
                    role_lookup.entry(display).or_insert(*r);
                }
            }
        }
        for role in &mut roles {
            let title = fold_str(&role.title);
            for text in std::iter::once(&title).chain(&role.aliases) {
                for key in crate::rules::speakers::lexicon::role_keys(text) {
                    if !role.keys.contains(&key) {
                        role.keys.push(key);
                    }
                }
            }
        }
        Ok(Registry {
            people,
            roles,
            by_id,
            role_by_name: role_lookup,
            matcher,
            named: named_vec,
        })
    }

    /// A person by id.
    pub fn person_by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id.trim()).copied()
    }

    /// A role by title or alias (case- and diacritic-insensitive).
    pub fn role_by_name(&self, name: &str) -> Option<usize> {
        self.role_by_name.get(&fold_str(name)).copied()
    }

    /// A person by one of their names or aliases, when exactly one person has it.
    pub fn person_by_name(&self, name: &str) -> Option<usize> {
        let folded = fold_str(name);
        let mut hits = Vec::new();
        self.matcher.scan(&folded, &mut hits);
        let mut found: Vec<usize> = hits
            .iter()
            .filter(|h| h.start == 0 && h.end == folded.len())
            .flat_map(|h| self.named[h.pattern as usize].iter())
            .filter_map(|n| match n {
                Named::Person(p) => Some(*p),
                Named::Role(_) => None,
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        (found.len() == 1).then(|| found[0])
    }

    /// Who held a role on a day.
    pub fn holders(&self, role: usize, day: Date) -> Vec<usize> {
        self.roles[role]
            .holders
            .iter()
            .filter(|(_, term)| term.covers(day))
            .map(|(person, _)| *person)
            .collect()
    }

    /// Roles a person held on a day.
    pub fn roles_of(&self, person: usize, day: Date) -> impl Iterator<Item = usize> + '_ {
        self.people[person]
            .holdings
            .iter()
            .filter(move |h| h.covers(day))
            .map(|h| h.role)
    }

    /// Every role title, for "did you mean".
    pub fn role_titles(&self) -> Vec<&str> {
        self.roles.iter().map(|r| r.title.as_str()).collect()
    }

    /// Every person id, for "did you mean".
    pub fn person_ids(&self) -> Vec<&str> {
        self.people.iter().map(|p| p.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn builtin_registry_loads_and_resolves_roles_by_date() -> Result<(), String> {
        let registry = Registry::builtin()?;
        let sg = registry
            .role_by_name("nato secretary general")
            .ok_or("no NATO SG role")?;
        let name = |p: Vec<usize>| {
            p.iter()
                .map(|i| registry.people[*i].name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            name(registry.holders(sg, day("2023-06-01"))),
            ["Jens Stoltenberg"]
        );
        assert_eq!(
            name(registry.holders(sg, day("2024-12-01"))),
            ["Mark Rutte"]
        );
        assert_eq!(
            name(registry.holders(sg, day("2024-09-30"))),
            ["Jens Stoltenberg"]
        );
        assert_eq!(
            name(registry.holders(sg, day("2024-10-01"))),
            ["Mark Rutte"]
        );
        assert_eq!(registry.role_by_name("NATO chief"), Some(sg));
        let us = registry
            .role_by_name("President of the United States")
            .ok_or("no US president")?;
        assert_eq!(
            name(registry.holders(us, day("2018-01-01"))),
            ["Donald Trump"]
        );
        assert_eq!(name(registry.holders(us, day("2022-01-01"))), ["Joe Biden"]);
        assert_eq!(
            name(registry.holders(us, day("2025-03-01"))),
            ["Donald Trump"]
        );
        let zelenskyy = registry.person_by_id("zelenskyy").ok_or("no zelenskyy")?;
        assert_eq!(registry.person_by_name("Зеленського"), Some(zelenskyy));
        assert_eq!(registry.person_by_name("Zelensky"), Some(zelenskyy));
        Ok(())
    }

    #[test]
    fn every_role_has_at_most_one_holder_per_day() -> Result<(), String> {
        let registry = Registry::builtin()?;
        for (index, role) in registry.roles.iter().enumerate() {
            for (_, term) in &role.holders {
                for day in [term.from, term.to.and_then(|t| t.yesterday().ok())]
                    .into_iter()
                    .flatten()
                {
                    let holders = registry.holders(index, day);
                    assert!(
                        holders.len() <= 1,
                        "{} has {} holders on {day}",
                        role.title,
                        holders.len()
                    );
                }
            }
        }
        Ok(())
    }

    #[test]
    fn alternatives_expand() {
        assert_eq!(
            expand_alternatives("Зеленськ{ий,ого} x{a,b}"),
            vec![
                "Зеленський xa",
                "Зеленський xb",
                "Зеленського xa",
                "Зеленського xb"
            ]
        );
    }
}
