//! An AVL tree of entities ordered by virtual deadline, augmented with each
//! subtree's minimum vruntime. The smallest and largest slice of the linked
//! entities come from a small counted list beside it (there are few distinct
//! slices), which keeps a node at 48 bytes.
//!
//! Nodes live in a `Vec` indexed by the entity's slot, linked by `u32` indices, so
//! the tree allocates only when the slot table grows and needs no `unsafe`. The
//! augmentation answers "does this subtree hold an eligible entity?" in O(1),
//! because eligibility (`v <= V`) is monotone in vruntime; that turns the
//! earliest-eligible-deadline search into one root-to-leaf walk.
//!
//! Virtual times are wrapping `u64`s compared by signed difference, so the order
//! is total as long as all live values lie within 2^63 of each other.

/// The null link.
pub(crate) const NIL: u32 = u32::MAX;

/// `a < b` on the wrapping virtual time line.
#[inline]
pub(crate) fn vt_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// The earlier of two virtual times.
#[inline]
pub(crate) fn vt_min(a: u64, b: u64) -> u64 {
    if vt_before(b, a) { b } else { a }
}

/// The hot per-entity data: everything the pick and the tree walk touch.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Virtual runtime.
    pub(crate) vruntime: u64,
    /// Virtual deadline; the primary key.
    pub(crate) deadline: u64,
    /// Minimum vruntime in this subtree.
    min_vruntime: u64,
    /// Insertion sequence number; breaks deadline ties in insertion order.
    /// When the counter runs out, the linked nodes are renumbered in order.
    seq: u32,
    /// The entity's request size in nanoseconds.
    pub(crate) slice: u32,
    left: u32,
    right: u32,
    parent: u32,
    height: u8,
}

impl Node {
    const EMPTY: Node = Node {
        vruntime: 0,
        deadline: 0,
        min_vruntime: 0,
        seq: 0,
        slice: 0,
        left: NIL,
        right: NIL,
        parent: NIL,
        height: 0,
    };
}

#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    root: u32,
    leftmost: u32,
    /// The last node in order: a new node that sorts after it (a burst of
    /// spawns at one deadline does) is linked there without a search.
    rightmost: u32,
    len: usize,
    next_seq: u32,
    /// The distinct slices of the linked nodes, ascending, with how many
    /// nodes have each.
    slices: Vec<(u32, u32)>,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            nodes: Vec::new(),
            root: NIL,
            leftmost: NIL,
            rightmost: NIL,
            len: 0,
            next_seq: 0,
            slices: Vec::new(),
        }
    }

    /// Makes room for slot `idx` (new slots start unlinked).
    pub(crate) fn ensure(&mut self, idx: u32) {
        let need = idx as usize + 1;
        if self.nodes.len() < need {
            self.nodes.resize(need, Node::EMPTY);
        }
    }

    #[inline]
    pub(crate) fn node(&self, idx: u32) -> &Node {
        &self.nodes[idx as usize]
    }

    /// Mutable access for fields that are not part of the order or augmentation
    /// while the node is linked (the caller keeps that promise).
    #[inline]
    pub(crate) fn node_mut(&mut self, idx: u32) -> &mut Node {
        &mut self.nodes[idx as usize]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The entity with the earliest deadline.
    #[inline]
    pub(crate) fn leftmost(&self) -> Option<u32> {
        (self.leftmost != NIL).then_some(self.leftmost)
    }

    /// Minimum vruntime over the whole tree.
    #[cfg(test)]
    pub(crate) fn min_vruntime(&self) -> Option<u64> {
        (self.root != NIL).then(|| self.node(self.root).min_vruntime)
    }

    /// Smallest and largest slice over the whole tree.
    #[inline]
    pub(crate) fn slice_range(&self) -> Option<(u32, u32)> {
        Some((self.slices.first()?.0, self.slices.last()?.0))
    }

    /// Counts one more linked node with `slice`.
    #[inline]
    fn count_slice(&mut self, slice: u32) {
        match self.slices.binary_search_by_key(&slice, |&(s, _)| s) {
            Ok(i) => self.slices[i].1 += 1,
            Err(i) => self.slices.insert(i, (slice, 1)),
        }
    }

    /// Counts one less linked node with `slice`.
    #[inline]
    fn uncount_slice(&mut self, slice: u32) {
        if let Ok(i) = self.slices.binary_search_by_key(&slice, |&(s, _)| s) {
            self.slices[i].1 -= 1;
            if self.slices[i].1 == 0 {
                self.slices.remove(i);
            }
        } else {
            debug_assert!(false, "slice {slice} was not counted");
        }
    }

    #[inline]
    pub(crate) fn less(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.node(a), self.node(b));
        if x.deadline == y.deadline {
            x.seq < y.seq
        } else {
            vt_before(x.deadline, y.deadline)
        }
    }

    #[inline]
    fn height(&self, t: u32) -> u8 {
        if t == NIL { 0 } else { self.node(t).height }
    }

    /// Recomputes height and augmentation of `t` from its children.
    #[inline]
    fn update(&mut self, t: u32) {
        let (l, r) = (self.node(t).left, self.node(t).right);
        let mut min_v = self.node(t).vruntime;
        let mut h = 0;
        for c in [l, r] {
            if c != NIL {
                let c = self.node(c);
                min_v = vt_min(min_v, c.min_vruntime);
                h = h.max(c.height);
            }
        }
        let n = self.node_mut(t);
        n.min_vruntime = min_v;
        n.height = h + 1;
    }

    /// Sets `t`'s left child, keeping the child's parent link.
    #[inline]
    fn set_left(&mut self, t: u32, c: u32) {
        self.node_mut(t).left = c;
        if c != NIL {
            self.node_mut(c).parent = t;
        }
    }

    /// Sets `t`'s right child, keeping the child's parent link.
    #[inline]
    fn set_right(&mut self, t: u32, c: u32) {
        self.node_mut(t).right = c;
        if c != NIL {
            self.node_mut(c).parent = t;
        }
    }

    /// Makes `t` the root.
    #[inline]
    fn set_root(&mut self, t: u32) {
        self.root = t;
        if t != NIL {
            self.node_mut(t).parent = NIL;
        }
    }

    fn rotate_right(&mut self, t: u32) -> u32 {
        let l = self.node(t).left;
        self.set_left(t, self.node(l).right);
        self.set_right(l, t);
        self.update(t);
        self.update(l);
        l
    }

    fn rotate_left(&mut self, t: u32) -> u32 {
        let r = self.node(t).right;
        self.set_right(t, self.node(r).left);
        self.set_left(r, t);
        self.update(t);
        self.update(r);
        r
    }

    /// Restores the AVL balance at `t` (whose subtrees are balanced and differ in
    /// height by at most 2) and returns the new subtree root.
    fn rebalance(&mut self, t: u32) -> u32 {
        let (l, r) = (self.node(t).left, self.node(t).right);
        let (hl, hr) = (self.height(l), self.height(r));
        if hl > hr + 1 {
            if self.height(self.node(l).left) < self.height(self.node(l).right) {
                let nl = self.rotate_left(l);
                self.set_left(t, nl);
            }
            self.rotate_right(t)
        } else if hr > hl + 1 {
            if self.height(self.node(r).right) < self.height(self.node(r).left) {
                let nr = self.rotate_right(r);
                self.set_right(t, nr);
            }
            self.rotate_left(t)
        } else {
            self.update(t);
            t
        }
    }

    /// Height and augmentation of `t`: what its parent is computed from.
    #[inline]
    fn summary(&self, t: u32) -> (u8, u64) {
        let n = self.node(t);
        (n.height, n.min_vruntime)
    }

    /// Makes `new` take `old`'s place under `parent` (NIL: the root).
    #[inline]
    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NIL {
            self.set_root(new);
        } else if self.node(parent).left == old {
            self.set_left(parent, new);
        } else {
            self.set_right(parent, new);
        }
    }

    /// Restores balance and augmentation from `t` up to the root after a
    /// change below `t`. It stops at the first subtree whose height and
    /// augmentation come out as before (everything above was computed from
    /// those), so an insertion or removal usually touches a few nodes above
    /// the change rather than the whole path. `moved` is a removal's
    /// replacement node, with the summary of the node it replaced: the walk
    /// goes on at least up to it (its own children changed), and compares it
    /// with that summary rather than the stale one of its old position.
    fn fix_up(&mut self, mut t: u32, mut moved: Option<(u32, (u8, u64))>) {
        while t != NIL {
            let before = match moved {
                Some((node, summary)) if node == t => {
                    moved = None;
                    summary
                }
                _ => self.summary(t),
            };
            let parent = self.node(t).parent;
            let root = self.rebalance(t);
            if root != t {
                self.replace_child(parent, t, root);
            }
            if moved.is_none() && self.summary(root) == before {
                return;
            }
            t = parent;
        }
    }

    /// Links slot `x`, whose `vruntime`, `deadline` and `slice` are set.
    pub(crate) fn insert(&mut self, x: u32) {
        if self.next_seq == u32::MAX {
            self.renumber();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.node_mut(x).seq = seq;
        self.insert_keeping_seq(x);
    }

    /// The next insertion sequence number, for a node that will be linked
    /// later with [`insert_keeping_seq`](Self::insert_keeping_seq); `None`
    /// when the counter has run out (an [`insert`](Self::insert) renumbers
    /// the linked nodes, which a node waiting outside the tree would miss).
    pub(crate) fn take_seq(&mut self) -> Option<u32> {
        (!self.seqs_exhausted()).then(|| {
            self.next_seq += 1;
            self.next_seq - 1
        })
    }

    /// Whether the sequence counter has run out: the next
    /// [`insert`](Self::insert) renumbers the linked nodes.
    pub(crate) fn seqs_exhausted(&self) -> bool {
        self.next_seq == u32::MAX
    }

    /// Gives unlinked slot `x` sequence number `seq`.
    pub(crate) fn set_seq(&mut self, x: u32, seq: u32) {
        self.node_mut(x).seq = seq;
    }

    /// Links slot `x` with the sequence number it already has (from
    /// [`take_seq`](Self::take_seq), with no renumbering since).
    pub(crate) fn insert_keeping_seq(&mut self, x: u32) {
        let n = self.node_mut(x);
        n.left = NIL;
        n.right = NIL;
        let slice = n.slice;
        self.count_slice(slice);
        self.update(x);
        let (mut parent, mut t, mut left) = (NIL, self.root, false);
        if self.rightmost != NIL && !self.less(x, self.rightmost) {
            // After every node: the right child of the last one.
            (parent, t) = (self.rightmost, NIL);
        }
        while t != NIL {
            parent = t;
            left = self.less(x, t);
            t = if left {
                self.node(t).left
            } else {
                self.node(t).right
            };
        }
        if parent == NIL {
            self.set_root(x);
        } else if left {
            self.set_left(parent, x);
        } else {
            self.set_right(parent, x);
        }
        self.fix_up(parent, None);
        if self.leftmost == NIL || self.less(x, self.leftmost) {
            self.leftmost = x;
        }
        if self.rightmost == NIL || !self.less(x, self.rightmost) {
            self.rightmost = x;
        }
        self.len += 1;
    }

    /// Gives the linked nodes sequence numbers 0, 1, 2... in tree order, which
    /// keeps every comparison as it was: for when the counter runs out (after
    /// 2^32 insertions).
    #[cold]
    fn renumber(&mut self) {
        let mut order = Vec::with_capacity(self.len);
        self.in_order(|n| order.push(n));
        for (seq, &n) in order.iter().enumerate() {
            self.node_mut(n).seq = seq as u32;
        }
        self.next_seq = order.len() as u32;
    }

    /// Visits linked slots in deadline order.
    fn in_order(&self, mut f: impl FnMut(u32)) {
        self.in_order_while(|n| {
            f(n);
            true
        });
    }

    /// Visits linked slots in deadline order while `f` returns true.
    pub(crate) fn in_order_while(&self, mut f: impl FnMut(u32) -> bool) {
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.node(t).left;
            }
            let n = stack.pop().expect("stack is non-empty");
            if !f(n) {
                return;
            }
            t = self.node(n).right;
        }
    }

    /// Unlinks slot `x`, which must be linked.
    pub(crate) fn remove(&mut self, x: u32) {
        let (l, r, parent) = {
            let n = self.node(x);
            (n.left, n.right, n.parent)
        };
        self.uncount_slice(self.node(x).slice);
        if self.leftmost == x {
            // `x` has no left child: next in order is the least of its right
            // subtree, or its parent.
            self.leftmost = if r == NIL { parent } else { self.least(r) };
        }
        if self.rightmost == x {
            // `x` has no right child: the one before it in order is the
            // greatest of its left subtree, or its parent.
            self.rightmost = if l == NIL { parent } else { self.greatest(l) };
        }
        if l == NIL || r == NIL {
            let child = if l == NIL { r } else { l };
            self.replace_child(parent, x, child);
            self.fix_up(parent, None);
        } else {
            // Two children: the successor `s` (least of the right subtree)
            // takes `x`'s place.
            let s = self.least(r);
            let was = Some((s, self.summary(x)));
            if s == r {
                self.set_left(s, l);
                self.replace_child(parent, x, s);
                self.fix_up(s, was);
            } else {
                let sp = self.node(s).parent;
                let sr = self.node(s).right;
                self.set_left(sp, sr);
                self.set_left(s, l);
                self.set_right(s, r);
                self.replace_child(parent, x, s);
                self.fix_up(sp, was);
            }
        }
        self.len -= 1;
    }

    /// The greatest slot of subtree `t` (not NIL).
    fn greatest(&self, mut t: u32) -> u32 {
        while self.node(t).right != NIL {
            t = self.node(t).right;
        }
        t
    }

    /// The least slot of subtree `t` (not NIL).
    fn least(&self, mut t: u32) -> u32 {
        while self.node(t).left != NIL {
            t = self.node(t).left;
        }
        t
    }

    /// Re-derives the augmentation above linked slot `x` after its vruntime
    /// grew in place from `old` (its deadline, the key, must not have
    /// changed), and before any insertion or removal (which compare each
    /// node's summary before and after, and so need it current). Stale
    /// values then sit only on `x` and a run of its ancestors, each holding
    /// exactly `old`. An ancestor whose minimum was below `old`
    /// did not get it from `x`, and neither did any ancestor above it (their
    /// minima are lower still), so the walk up recomputes only the ancestors
    /// whose minimum equals `old`, and stops at the first one that does not,
    /// without reading its children. The walk also stops at the first node
    /// whose minimum comes out unchanged (another entity in its subtree
    /// holds it): nothing above can change either. With many entities at
    /// one vruntime, as after a spawn burst, that is usually `x` or its
    /// parent, so a charge costs O(1) instead of a walk to the root.
    pub(crate) fn refresh(&mut self, x: u32, old: u64) {
        let mut t = x;
        loop {
            let before = self.node(t).min_vruntime;
            self.update(t);
            if self.node(t).min_vruntime == before {
                return;
            }
            t = self.node(t).parent;
            if t == NIL || self.node(t).min_vruntime != old {
                return;
            }
        }
    }

    /// The earliest-deadline entity whose vruntime passes `eligible`, which must be
    /// monotone (true for all vruntimes below some bound). O(1) when the earliest
    /// deadline is eligible, one root-to-leaf walk otherwise. Every node
    /// ordered before the answer (every node, if there is none) is folded
    /// into `passed` with [`vt_min`]: what a later search starting from the
    /// answer needs to know about the nodes it will not look at again.
    #[inline]
    pub(crate) fn pick(&self, eligible: impl Fn(u64) -> bool, passed: &mut u64) -> Option<u32> {
        if self.leftmost == NIL {
            return None;
        }
        if eligible(self.node(self.leftmost).vruntime) {
            return Some(self.leftmost);
        }
        self.pick_slow(eligible, passed)
    }

    #[cold]
    fn pick_slow(&self, eligible: impl Fn(u64) -> bool, passed: &mut u64) -> Option<u32> {
        self.first_eligible(self.root, &eligible, passed)
    }

    /// The first node of subtree `t` in tree order whose vruntime passes
    /// `eligible`, if any: one walk down, steered by the minima. Folds the
    /// subtree's nodes before it into `passed`.
    fn first_eligible(
        &self,
        mut t: u32,
        eligible: &impl Fn(u64) -> bool,
        passed: &mut u64,
    ) -> Option<u32> {
        while t != NIL {
            let n = self.node(t);
            let mut left = false;
            if n.left != NIL {
                let min = self.node(n.left).min_vruntime;
                left = eligible(min);
                if !left {
                    *passed = vt_min(*passed, min);
                }
            }
            if !left {
                if eligible(n.vruntime) {
                    return Some(t);
                }
                *passed = vt_min(*passed, n.vruntime);
            }
            t = if left { n.left } else { n.right };
        }
        None
    }

    /// The first linked node after linked `x` in tree order whose vruntime
    /// passes `eligible` (monotone, as for [`pick`](Self::pick)), found
    /// without changing the tree: first in `x`'s right subtree, then at each
    /// ancestor `x` lies left of (the ancestor, then its right subtree).
    /// Stepping from one node to the next in order costs O(1) amortized, so
    /// a round of yields through the whole queue does not walk down from
    /// the root for each. Every node strictly between `x` and the answer
    /// (every node after `x`, if there is none) is folded into `passed`
    /// with [`vt_min`], as [`pick`](Self::pick) does for the nodes before
    /// its answer.
    pub(crate) fn next_eligible(
        &self,
        x: u32,
        eligible: impl Fn(u64) -> bool,
        passed: &mut u64,
    ) -> Option<u32> {
        // Whether subtree `t` holds an eligible node; if it does not, its
        // minimum is folded into `passed`.
        let has = |t: u32, passed: &mut u64| {
            if t == NIL {
                return false;
            }
            let min = self.node(t).min_vruntime;
            let yes = eligible(min);
            if !yes {
                *passed = vt_min(*passed, min);
            }
            yes
        };
        let r = self.node(x).right;
        if has(r, passed) {
            return self.first_eligible(r, &eligible, passed);
        }
        let (mut c, mut p) = (x, self.node(x).parent);
        while p != NIL {
            let n = self.node(p);
            if n.left == c {
                if eligible(n.vruntime) {
                    return Some(p);
                }
                *passed = vt_min(*passed, n.vruntime);
                if has(n.right, passed) {
                    return self.first_eligible(n.right, &eligible, passed);
                }
            }
            (c, p) = (p, n.parent);
        }
        None
    }

    /// Visits linked slots in deadline order.
    #[cfg(test)]
    pub(crate) fn for_each(&self, f: impl FnMut(u32)) {
        self.in_order(f);
    }

    /// Checks every structural invariant; for tests.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        fn walk(tree: &Tree, t: u32, slices: &mut Vec<u32>) -> (u8, u64) {
            let n = tree.node(t);
            slices.push(n.slice);
            let mut min_v = n.vruntime;
            let mut hs = [0u8; 2];
            for (i, c) in [n.left, n.right].into_iter().enumerate() {
                if c != NIL {
                    assert_eq!(tree.node(c).parent, t, "parent link");
                    if i == 0 {
                        assert!(tree.less(c, t), "left child out of order");
                    } else {
                        assert!(tree.less(t, c), "right child out of order");
                    }
                    let (h, v) = walk(tree, c, slices);
                    hs[i] = h;
                    min_v = vt_min(min_v, v);
                }
            }
            assert!(hs[0].abs_diff(hs[1]) <= 1, "unbalanced");
            assert_eq!(n.height, hs[0].max(hs[1]) + 1, "height");
            assert_eq!(n.min_vruntime, min_v, "min_vruntime augmentation");
            (n.height, min_v)
        }
        let mut slices = Vec::new();
        if self.root != NIL {
            assert_eq!(self.node(self.root).parent, NIL, "root has no parent");
            walk(self, self.root, &mut slices);
        }
        assert_eq!(slices.len(), self.len);
        slices.sort_unstable();
        let mut counted: Vec<(u32, u32)> = Vec::new();
        for s in slices {
            match counted.last_mut() {
                Some((last, n)) if *last == s => *n += 1,
                _ => counted.push((s, 1)),
            }
        }
        assert_eq!(counted, self.slices, "slice counts");
        let (mut first, mut last) = (None, NIL);
        self.for_each(|n| {
            first.get_or_insert(n);
            last = n;
        });
        assert_eq!(first.unwrap_or(NIL), self.leftmost, "cached leftmost");
        assert_eq!(last, self.rightmost, "cached rightmost");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(tree: &mut Tree, idx: u32, v: u64, d: u64, slice: u32) {
        tree.ensure(idx);
        let n = tree.node_mut(idx);
        n.vruntime = v;
        n.deadline = d;
        n.slice = slice;
    }

    proptest! {
        #[test]
        fn matches_a_sorted_list(ops in prop::collection::vec((0u32..64, 0u64..50, 0u64..50, any::<bool>()), 1..400), base in any::<u64>()) {
            let mut tree = Tree::new();
            let mut linked: Vec<u32> = Vec::new();
            for (idx, v, d, add) in ops {
                if let Some(pos) = linked.iter().position(|&x| x == idx) {
                    if !add {
                        tree.remove(idx);
                        linked.remove(pos);
                    }
                } else if add {
                    set(&mut tree, idx, base.wrapping_add(v), base.wrapping_add(d), (v as u32) + 1);
                    tree.insert(idx);
                    linked.push(idx);
                }
                tree.check();
                // Brute-force pick for a few thresholds.
                for bound in [0u64, 10, 25, 49] {
                    let eligible = |v: u64| !vt_before(base.wrapping_add(bound), v);
                    let mut order = Vec::new();
                    tree.for_each(|n| order.push(n));
                    let want = order.iter().copied().find(|&n| eligible(tree.node(n).vruntime));
                    // `passed` is the minimum of the nodes before the answer.
                    let sentinel = base.wrapping_add(1 << 62);
                    let fold = |nodes: &[u32]| nodes.iter().fold(sentinel, |m, &n| vt_min(m, tree.node(n).vruntime));
                    let position = |x: Option<u32>| x.map_or(order.len(), |x| order.iter().position(|&n| n == x).unwrap());
                    let mut passed = sentinel;
                    prop_assert_eq!(tree.pick(eligible, &mut passed), want);
                    prop_assert_eq!(passed, fold(&order[..position(want)]));
                    for (i, &x) in order.iter().enumerate() {
                        let rest = &order[i + 1..];
                        let after = rest.iter().copied().find(|&n| eligible(tree.node(n).vruntime));
                        let mut passed = sentinel;
                        prop_assert_eq!(tree.next_eligible(x, eligible, &mut passed), after);
                        // What lies strictly between `x` and the answer.
                        let between = after.map_or(rest.len(), |a| rest.iter().position(|&n| n == a).unwrap());
                        prop_assert_eq!(passed, fold(&rest[..between]));
                    }
                }
            }
        }
    }

    #[test]
    fn a_node_is_48_bytes() {
        // Every task, running or asleep, has one on its worker's queue.
        assert_eq!(std::mem::size_of::<Node>(), 48);
    }

    #[test]
    fn ties_stay_in_insertion_order_across_the_sequence_wrap() {
        let mut tree = Tree::new();
        tree.next_seq = u32::MAX - 3;
        for i in 0..10 {
            set(&mut tree, i, 0, 7, 1 + i % 3);
            tree.insert(i);
            tree.check();
        }
        assert!(tree.next_seq < 20, "renumbered from 0");
        let mut order = Vec::new();
        tree.for_each(|n| order.push(n));
        assert_eq!(order, (0..10).collect::<Vec<_>>());
        assert_eq!(tree.slice_range(), Some((1, 3)));
        tree.remove(0);
        set(&mut tree, 0, 0, 7, 1);
        tree.insert(0);
        assert_eq!(tree.leftmost(), Some(1));
    }

    #[test]
    fn ties_in_insertion_order() {
        let mut tree = Tree::new();
        for i in 0..5 {
            set(&mut tree, i, 0, 7, 1);
            tree.insert(i);
        }
        let mut order = Vec::new();
        tree.for_each(|n| order.push(n));
        assert_eq!(order, [0, 1, 2, 3, 4]);
        tree.remove(0);
        set(&mut tree, 0, 0, 7, 1);
        tree.insert(0);
        assert_eq!(tree.leftmost(), Some(1));
    }
}
