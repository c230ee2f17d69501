//! Unit tests of the even scheduler.

use super::*;

fn sups(spec: &[(&str, &[u16])]) -> Vec<SupervisorSlots> {
    spec.iter()
        .map(|(id, ports)| SupervisorSlots {
            id: (*id).to_string(),
            host: format!("{id}.host"),
            ports: ports.to_vec(),
        })
        .collect()
}

fn execs(n: u32) -> Vec<Executor> {
    (1..=n).map(|t| [t, t]).collect()
}

fn demand<'a>(workers: u32, executors: &'a [Executor], current: &'a Assignment) -> Demand<'a> {
    Demand {
        num_workers: workers,
        executors,
        current,
        frozen: false,
    }
}

fn per_supervisor(a: &Assignment) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for w in &a.workers {
        *out.entry(w.supervisor.clone()).or_insert(0) += 1;
    }
    out
}

fn all_executors(a: &Assignment) -> Vec<Executor> {
    let mut v: Vec<Executor> = a.workers.iter().flat_map(|w| w.executors.clone()).collect();
    v.sort_unstable();
    v
}

#[test]
fn even_split_matches_storm_integer_divided() {
    assert_eq!(even_split(7, 3), BTreeMap::from([(2, 2), (3, 1)]));
    assert_eq!(even_split(6, 3), BTreeMap::from([(2, 3)]));
    assert_eq!(even_split(2, 4), BTreeMap::from([(0, 2), (1, 2)]));
    assert!(even_split(5, 0).is_empty());
}

#[test]
fn two_workers_spread_one_per_supervisor() {
    let s = sups(&[("a", &[6700, 6701]), ("b", &[6700, 6701])]);
    let e = execs(5);
    let none = Assignment::default();
    let out = schedule(&s, &[demand(2, &e, &none)]);
    let a = &out[0];
    assert_eq!(a.workers.len(), 2);
    assert_eq!(
        per_supervisor(a),
        BTreeMap::from([("a".into(), 1), ("b".into(), 1)])
    );
    assert_eq!(all_executors(a), e);
    // Round robin in task order: worker 0 gets executors 1, 3, 5; worker 1 gets 2, 4.
    let counts: Vec<usize> = a.workers.iter().map(|w| w.executors.len()).collect();
    assert_eq!(counts, vec![3, 2]);
    assert_eq!(a.workers[0].executors, vec![[1, 1], [3, 3], [5, 5]]);
    assert_eq!(a.workers[0].host, "a.host");
    assert_eq!(a.workers[0].port, 6700);
}

#[test]
fn most_free_supervisor_first() {
    let s = sups(&[("a", &[1]), ("b", &[1, 2, 3])]);
    let e = execs(2);
    let none = Assignment::default();
    let out = schedule(&s, &[demand(1, &e, &none)]);
    assert_eq!(out[0].workers[0].supervisor, "b");
}

#[test]
fn unchanged_input_keeps_the_assignment() {
    let s = sups(&[("a", &[1, 2]), ("b", &[1, 2]), ("c", &[1])]);
    let e = execs(7);
    let none = Assignment::default();
    let first = schedule(&s, &[demand(3, &e, &none)]).remove(0);
    let second = schedule(&s, &[demand(3, &e, &first)]).remove(0);
    assert_eq!(first, second);
}

#[test]
fn dead_supervisor_workers_move_and_others_stay() {
    let s = sups(&[("a", &[1, 2]), ("b", &[1, 2])]);
    let e = execs(4);
    let none = Assignment::default();
    let before = schedule(&s, &[demand(2, &e, &none)]).remove(0);
    let on_a = before.workers.iter().find(|w| w.supervisor == "a").cloned();
    let alive = sups(&[("a", &[1, 2])]);
    let after = schedule(&alive, &[demand(2, &e, &before)]).remove(0);
    assert_eq!(after.workers.len(), 2);
    assert!(after.workers.iter().all(|w| w.supervisor == "a"));
    assert_eq!(all_executors(&after), e);
    // The worker that was on the surviving supervisor did not move.
    assert!(
        after
            .workers
            .contains(&on_a.unwrap_or_else(|| panic!("no worker on a")))
    );
}

#[test]
fn too_few_slots_gives_what_exists_then_grows() {
    let e = execs(4);
    let none = Assignment::default();
    let small = sups(&[("a", &[1])]);
    let first = schedule(&small, &[demand(2, &e, &none)]).remove(0);
    assert_eq!(first.workers.len(), 1);
    assert_eq!(all_executors(&first), e);
    let bigger = sups(&[("a", &[1]), ("b", &[1])]);
    let second = schedule(&bigger, &[demand(2, &e, &first)]).remove(0);
    assert_eq!(second.workers.len(), 2);
    assert_eq!(per_supervisor(&second).len(), 2);
    assert_eq!(all_executors(&second), e);
}

#[test]
fn no_supervisor_means_no_workers() {
    let e = execs(3);
    let none = Assignment::default();
    let out = schedule(&[], &[demand(2, &e, &none)]);
    assert!(out[0].workers.is_empty());
}

#[test]
fn fewer_executors_than_workers_uses_one_worker_per_executor() {
    let s = sups(&[("a", &[1, 2, 3]), ("b", &[1, 2, 3])]);
    let e = execs(2);
    let none = Assignment::default();
    let out = schedule(&s, &[demand(5, &e, &none)]).remove(0);
    assert_eq!(out.workers.len(), 2);
    assert!(out.workers.iter().all(|w| w.executors.len() == 1));
}

#[test]
fn topologies_do_not_share_slots() {
    let s = sups(&[("a", &[1, 2]), ("b", &[1])]);
    let e1 = execs(2);
    let e2 = execs(3);
    let none = Assignment::default();
    let out = schedule(&s, &[demand(2, &e1, &none), demand(2, &e2, &none)]);
    let slots: Vec<SlotId> = out
        .iter()
        .flat_map(|a| a.workers.iter().map(SlotId::of))
        .collect();
    let unique: HashSet<&SlotId> = slots.iter().collect();
    assert_eq!(slots.len(), unique.len());
    assert_eq!(out[0].workers.len(), 2);
    assert_eq!(
        out[1].workers.len(),
        1,
        "only one slot is left for the second"
    );
    // The first keeps its slots when the second asks again.
    let again = schedule(&s, &[demand(2, &e1, &out[0]), demand(2, &e2, &out[1])]);
    assert_eq!(again, out);
}

#[test]
fn changed_executors_are_rescheduled() {
    let s = sups(&[("a", &[1, 2]), ("b", &[1, 2])]);
    let before_execs = execs(4);
    let none = Assignment::default();
    let before = schedule(&s, &[demand(2, &before_execs, &none)]).remove(0);
    let after_execs: Vec<Executor> = vec![[1, 2], [3, 4]];
    let after = schedule(&s, &[demand(2, &after_execs, &before)]).remove(0);
    assert_eq!(all_executors(&after), after_execs);
    assert_eq!(after.workers.len(), 2);
}

#[test]
fn rebalance_to_more_workers_spreads_again() {
    let s = sups(&[("a", &[1, 2]), ("b", &[1, 2])]);
    let e = execs(8);
    let none = Assignment::default();
    let two = schedule(&s, &[demand(2, &e, &none)]).remove(0);
    let four = schedule(&s, &[demand(4, &e, &two)]).remove(0);
    assert_eq!(four.workers.len(), 4);
    assert!(four.workers.iter().all(|w| w.executors.len() == 2));
    assert_eq!(all_executors(&four), e);
    let one = schedule(&s, &[demand(1, &e, &four)]).remove(0);
    assert_eq!(one.workers.len(), 1);
    assert_eq!(all_executors(&one), e);
}

#[test]
fn frozen_topology_keeps_its_slots() {
    let s = sups(&[("a", &[1])]);
    let e = execs(2);
    let none = Assignment::default();
    let held = schedule(&s, &[demand(1, &e, &none)]).remove(0);
    let frozen = Demand {
        frozen: true,
        ..demand(1, &e, &held)
    };
    let out = schedule(&s, &[frozen, demand(1, &e, &none)]);
    assert_eq!(out[0], held);
    assert!(out[1].workers.is_empty());
}

#[test]
fn duplicate_claim_goes_to_the_first() {
    let s = sups(&[("a", &[1, 2])]);
    let e = execs(2);
    let none = Assignment::default();
    let held = schedule(&s, &[demand(1, &e, &none)]).remove(0);
    let out = schedule(&s, &[demand(1, &e, &held), demand(1, &e, &held)]);
    assert_eq!(out[0], held);
    assert_eq!(out[1].workers.len(), 1);
    assert_ne!(out[1].workers[0].port, held.workers[0].port);
}
