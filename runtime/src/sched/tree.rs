//! An AVL tree of entities ordered by virtual deadline, augmented with each
//! subtree's minimum vruntime (and minimum/maximum slice).
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
    /// Insertion sequence number; breaks deadline ties in insertion order.
    seq: u64,
    /// Minimum vruntime in this subtree.
    min_vruntime: u64,
    /// The entity's request size in nanoseconds.
    pub(crate) slice: u32,
    min_slice: u32,
    max_slice: u32,
    left: u32,
    right: u32,
    parent: u32,
    height: u8,
}

impl Node {
    const EMPTY: Node = Node {
        vruntime: 0,
        deadline: 0,
        seq: 0,
        min_vruntime: 0,
        slice: 0,
        min_slice: 0,
        max_slice: 0,
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
    len: usize,
    next_seq: u64,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            nodes: Vec::new(),
            root: NIL,
            leftmost: NIL,
            len: 0,
            next_seq: 0,
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
    pub(crate) fn slice_range(&self) -> Option<(u32, u32)> {
        (self.root != NIL).then(|| {
            let n = self.node(self.root);
            (n.min_slice, n.max_slice)
        })
    }

    #[inline]
    fn less(&self, a: u32, b: u32) -> bool {
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
        let n = self.node(t);
        let mut min_v = n.vruntime;
        let mut min_s = n.slice;
        let mut max_s = n.slice;
        let mut h = 0;
        for c in [l, r] {
            if c != NIL {
                let c = self.node(c);
                min_v = vt_min(min_v, c.min_vruntime);
                min_s = min_s.min(c.min_slice);
                max_s = max_s.max(c.max_slice);
                h = h.max(c.height);
            }
        }
        let n = self.node_mut(t);
        n.min_vruntime = min_v;
        n.min_slice = min_s;
        n.max_slice = max_s;
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
    fn summary(&self, t: u32) -> (u8, u64, u32, u32) {
        let n = self.node(t);
        (n.height, n.min_vruntime, n.min_slice, n.max_slice)
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
    fn fix_up(&mut self, mut t: u32, mut moved: Option<(u32, (u8, u64, u32, u32))>) {
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
        let seq = self.next_seq;
        self.next_seq += 1;
        let n = self.node_mut(x);
        n.seq = seq;
        n.left = NIL;
        n.right = NIL;
        self.update(x);
        let (mut parent, mut t, mut left) = (NIL, self.root, false);
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
        self.len += 1;
    }

    /// Unlinks slot `x`, which must be linked.
    pub(crate) fn remove(&mut self, x: u32) {
        let (l, r, parent) = {
            let n = self.node(x);
            (n.left, n.right, n.parent)
        };
        if self.leftmost == x {
            // `x` has no left child: next in order is the least of its right
            // subtree, or its parent.
            self.leftmost = if r == NIL { parent } else { self.least(r) };
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

    /// The least slot of subtree `t` (not NIL).
    fn least(&self, mut t: u32) -> u32 {
        while self.node(t).left != NIL {
            t = self.node(t).left;
        }
        t
    }

    /// Re-derives the augmentation above linked slot `x` after its vruntime
    /// changed in place (its deadline, the key, must not have). Stale values can
    /// only sit on `x`'s ancestors: a rotation or removal elsewhere recomputes
    /// nodes from their children, and only ancestors of `x` contain it. So one
    /// walk up from `x`, stopping at the first ancestor whose minimum does not
    /// change (everything above was computed from that same value), restores
    /// every invariant.
    pub(crate) fn refresh(&mut self, x: u32) {
        self.update(x);
        let mut t = self.node(x).parent;
        while t != NIL {
            let before = self.node(t).min_vruntime;
            self.update(t);
            if self.node(t).min_vruntime == before {
                break;
            }
            t = self.node(t).parent;
        }
    }

    /// The earliest-deadline entity whose vruntime passes `eligible`, which must be
    /// monotone (true for all vruntimes below some bound). O(1) when the earliest
    /// deadline is eligible, one root-to-leaf walk otherwise.
    #[inline]
    pub(crate) fn pick(&self, eligible: impl Fn(u64) -> bool) -> Option<u32> {
        if self.leftmost == NIL {
            return None;
        }
        if eligible(self.node(self.leftmost).vruntime) {
            return Some(self.leftmost);
        }
        self.pick_slow(eligible)
    }

    #[cold]
    fn pick_slow(&self, eligible: impl Fn(u64) -> bool) -> Option<u32> {
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            if n.left != NIL && eligible(self.node(n.left).min_vruntime) {
                t = n.left;
                continue;
            }
            if eligible(n.vruntime) {
                return Some(t);
            }
            t = n.right;
        }
        None
    }

    /// Visits linked slots in deadline order.
    #[cfg(test)]
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32)) {
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.node(t).left;
            }
            let n = stack.pop().expect("stack is non-empty");
            f(n);
            t = self.node(n).right;
        }
    }

    /// Checks every structural invariant; for tests.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        fn walk(tree: &Tree, t: u32, count: &mut usize) -> (u8, u64, u32, u32) {
            let n = tree.node(t);
            *count += 1;
            let mut min_v = n.vruntime;
            let (mut lo, mut hi) = (n.slice, n.slice);
            let mut hs = [0u8; 2];
            for (i, c) in [n.left, n.right].into_iter().enumerate() {
                if c != NIL {
                    assert_eq!(tree.node(c).parent, t, "parent link");
                    if i == 0 {
                        assert!(tree.less(c, t), "left child out of order");
                    } else {
                        assert!(tree.less(t, c), "right child out of order");
                    }
                    let (h, v, a, b) = walk(tree, c, count);
                    hs[i] = h;
                    min_v = vt_min(min_v, v);
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
            }
            assert!(hs[0].abs_diff(hs[1]) <= 1, "unbalanced");
            assert_eq!(n.height, hs[0].max(hs[1]) + 1, "height");
            assert_eq!(n.min_vruntime, min_v, "min_vruntime augmentation");
            assert_eq!((n.min_slice, n.max_slice), (lo, hi), "slice augmentation");
            (n.height, min_v, lo, hi)
        }
        let mut count = 0;
        if self.root != NIL {
            assert_eq!(self.node(self.root).parent, NIL, "root has no parent");
            walk(self, self.root, &mut count);
        }
        assert_eq!(count, self.len);
        let mut first = None;
        self.for_each(|n| {
            first.get_or_insert(n);
        });
        assert_eq!(first.unwrap_or(NIL), self.leftmost, "cached leftmost");
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
                    prop_assert_eq!(tree.pick(eligible), want);
                }
            }
        }
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
