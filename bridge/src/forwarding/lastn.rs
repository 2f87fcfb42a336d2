//! Last-N: which participants' video a receiver gets, ordered by recent speech.
//!
//! The order is the conference's: a participant moves to the front when it becomes the
//! dominant speaker, and newcomers join at the back. Each receiver gets the first N others in
//! that order, with its on-stage participant always among them.

#[derive(Debug, Default)]
pub struct SpeechOrder {
    order: Vec<u64>,
}

impl SpeechOrder {
    pub fn join(&mut self, who: u64) {
        if !self.order.contains(&who) {
            self.order.push(who);
        }
    }

    pub fn leave(&mut self, who: u64) {
        self.order.retain(|w| *w != who);
    }

    pub fn spoke(&mut self, who: u64) {
        self.leave(who);
        self.order.insert(0, who);
    }

    pub fn order(&self) -> &[u64] {
        &self.order
    }

    /// The participants `receiver` gets video from: `on_stage` first (if it is a candidate),
    /// then by speech order, at most `n` (the on-stage participant counts toward `n` but is
    /// kept even when `n` is 0). `publishes` says who has video to send.
    pub fn select(&self, receiver: u64, n: usize, on_stage: Option<u64>, publishes: impl Fn(u64) -> bool) -> Vec<u64> {
        let mut out: Vec<u64> = on_stage.filter(|s| *s != receiver && publishes(*s)).into_iter().collect();
        for &who in &self.order {
            if out.len() >= n {
                break;
            }
            if who != receiver && !out.contains(&who) && publishes(who) {
                out.push(who);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_speech_and_keeps_on_stage() {
        let mut o = SpeechOrder::default();
        for w in 1..=5 {
            o.join(w);
        }
        let all = |_| true;
        assert_eq!(o.select(1, 2, None, all), vec![2, 3]);
        o.spoke(5);
        assert_eq!(o.select(1, 2, None, all), vec![5, 2]);
        o.spoke(4);
        assert_eq!(o.select(1, 2, None, all), vec![4, 5]);
        assert_eq!(o.select(4, 2, None, all), vec![5, 1], "never oneself");
        assert_eq!(o.select(1, 2, Some(3), all), vec![3, 4]);
        assert_eq!(o.select(1, 0, Some(3), all), vec![3]);
        assert_eq!(o.select(1, 2, None, |w| w != 4), vec![5, 2], "only publishers of video");
        o.leave(5);
        assert_eq!(o.select(1, 9, None, all), vec![4, 2, 3]);
    }
}
