//! Injected failures: throttling, outages, slowness and dropped connections.
//!
//! Tessera's outbox must survive all of them, so tests need to provoke them on demand and
//! reproducibly: rules match by method and path prefix, fire with a probability drawn from a
//! seeded RNG, and can be limited to a number of hits.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::errors::GraphError;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// 429 Too Many Requests with `Retry-After`.
    Throttle,
    /// 503 Service Unavailable (with `Retry-After` when `retryAfterSeconds` is set).
    Unavailable,
    /// Answer normally, but only after `delayMs`.
    Delay,
    /// Close the connection without answering.
    Drop,
    /// Carry the request out, then close the connection without answering: the client cannot
    /// tell whether it took effect (the ambiguous failure an outbox must resolve by looking up).
    LostAnswer,
}

/// One fault rule, as the control API accepts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// Probability (0.0–1.0) that a matching request is hit.
    #[serde(default = "one")]
    pub rate: f64,
    /// Only requests whose path starts with this (e.g. `/v1.0/users`).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only requests with this method (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Stop after this many hits (unlimited when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// `Retry-After` seconds for throttle (default 1) and unavailable (none by default).
    #[serde(default)]
    pub retry_after_seconds: Option<u32>,
    /// Delay for `delay` rules.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many requests this rule has hit so far (output only).
    #[serde(default, skip_deserializing)]
    pub hits: u32,
}

fn one() -> f64 {
    1.0
}

impl FaultRule {
    fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err("rate must be between 0.0 and 1.0".into());
        }
        if self.kind == FaultKind::Delay && self.delay_ms.is_none() {
            return Err("a delay rule needs delayMs".into());
        }
        if self.delay_ms.is_some_and(|d| d > 600_000) {
            return Err("delayMs must be at most 600000".into());
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times.is_none_or(|t| self.hits < t)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

/// The outcome a request suffers instead of its normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Throttle { retry_after: u32 },
    Unavailable { retry_after: Option<u32> },
    Drop,
    LostAnswer,
}

impl Outcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Throttle { .. } => "throttle",
            Self::Unavailable { .. } => "unavailable",
            Self::Drop => "drop",
            Self::LostAnswer => "lostAnswer",
        }
    }
}

/// What the fault rules decided for one request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Decision {
    pub delay_ms: u64,
    pub outcome: Option<Outcome>,
}

/// The active rules and the seeded RNG that rolls their rates.
pub(crate) struct FaultEngine {
    rules: Vec<FaultRule>,
    seed: u64,
    rng: StdRng,
}

impl FaultEngine {
    pub(crate) fn new(seed: u64) -> Self {
        Self { rules: Vec::new(), seed, rng: StdRng::seed_from_u64(seed) }
    }

    /// Replaces the rules and, when given, reseeds the RNG so a test run is reproducible.
    pub(crate) fn set(&mut self, rules: Vec<FaultRule>, seed: Option<u64>) -> Result<(), String> {
        for r in &rules {
            r.validate()?;
        }
        self.rules = rules
            .into_iter()
            .map(|mut r| {
                r.hits = 0;
                r
            })
            .collect();
        if let Some(seed) = seed {
            self.seed = seed;
        }
        self.rng = StdRng::seed_from_u64(self.seed);
        Ok(())
    }

    pub(crate) fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Rolls every matching rule in order: delays add up, the first failure outcome wins.
    pub(crate) fn decide(&mut self, method: &str, path: &str) -> Decision {
        let mut decision = Decision::default();
        for rule in &mut self.rules {
            if !rule.matches(method, path) {
                continue;
            }
            let fire = rule.rate >= 1.0 || (rule.rate > 0.0 && self.rng.gen_bool(rule.rate));
            if !fire {
                continue;
            }
            let outcome = match rule.kind {
                FaultKind::Delay => None,
                FaultKind::Throttle => Some(Outcome::Throttle { retry_after: rule.retry_after_seconds.unwrap_or(1) }),
                FaultKind::Unavailable => Some(Outcome::Unavailable { retry_after: rule.retry_after_seconds }),
                FaultKind::Drop => Some(Outcome::Drop),
                FaultKind::LostAnswer => Some(Outcome::LostAnswer),
            };
            if outcome.is_some() && decision.outcome.is_some() {
                continue;
            }
            rule.hits = rule.hits.saturating_add(1);
            if rule.kind == FaultKind::Delay {
                decision.delay_ms = decision.delay_ms.saturating_add(rule.delay_ms.unwrap_or(0));
            }
            if outcome.is_some() {
                decision.outcome = outcome;
            }
        }
        decision
    }
}

impl Outcome {
    /// The Graph error a throttled or failing request answers with (`None` for a drop,
    /// which has no answer at all).
    pub(crate) fn graph_error(self) -> Option<GraphError> {
        match self {
            Self::Throttle { retry_after } => {
                let mut e = GraphError::new(429, "TooManyRequests", "Please retry again later.");
                e.retry_after = Some(retry_after);
                Some(e)
            }
            Self::Unavailable { retry_after } => {
                let mut e = GraphError::new(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.");
                e.retry_after = retry_after;
                Some(e)
            }
            Self::Drop | Self::LostAnswer => None,
        }
    }
}
