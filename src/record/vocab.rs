//! The controlled vocabularies of the schema.
//!
//! Records from different groups can only be counted together if they use the
//! same terms, so the terms are closed lists (after the Every Casualty
//! Standards for Casualty Recording and the HURIDOCS Events Standard Formats)
//! and each list lives here, once, with its spelling on the wire. Anything
//! the lists cannot say goes into the free-text `*_detail` fields.

/// A closed list of terms with one spelling each.
pub trait Vocab: Sized + Copy + 'static {
    /// What one term is called in messages ("cause", "source type").
    const WHAT: &'static str;
    /// Every term, in documentation order.
    const TERMS: &'static [&'static str];
    /// What to do when a term is not in the list, if there is a standard answer.
    const HINT: Option<&'static str>;
    fn from_term(term: &str) -> Option<Self>;
    fn term(self) -> &'static str;
}

macro_rules! vocab {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal, hint: $hint:expr) {
            $( $(#[$vmeta:meta])* $variant:ident => $term:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The term as written in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $term),+
                }
            }
        }

        impl Vocab for $name {
            const WHAT: &'static str = $what;
            const TERMS: &'static [&'static str] = &[$($term),+];
            const HINT: Option<&'static str> = $hint;
            fn from_term(term: &str) -> Option<Self> {
                match term {
                    $($term => Some($name::$variant),)+
                    _ => None,
                }
            }
            fn term(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocab! {
    /// Who may see a record. Exports filter on this.
    pub enum Sensitivity ("sensitivity level", hint: None) {
        /// May be published.
        Public => "public",
        /// May be shared with partner organisations; the default.
        Partner => "partner",
        /// Stays inside the recording organisation.
        Internal => "internal",
    }
}

vocab! {
    pub enum Sex ("sex", hint: Some("use `unknown` when it is not known")) {
        Male => "male",
        Female => "female",
        Unknown => "unknown",
    }
}

vocab! {
    /// Coarse age when neither an age nor a range is known.
    pub enum AgeBand ("age band", hint: Some("use `min` and `max` for any other range")) {
        /// Under 18.
        Child => "child",
        /// 18 to 59.
        Adult => "adult",
        /// 60 and over.
        Elderly => "elderly",
    }
}

vocab! {
    /// How the person died (Every Casualty: "cause/type of death").
    pub enum Cause ("cause", hint: Some("use `other` and describe it in `cause_detail`")) {
        Shelling => "shelling",
        Airstrike => "airstrike",
        Shooting => "shooting",
        Sniper => "sniper",
        /// Car bombs, IEDs, suicide attacks.
        ExplosiveDevice => "explosive-device",
        Landmine => "landmine",
        /// Unexploded ordnance, cluster submunitions left behind.
        ExplosiveRemnants => "explosive-remnants",
        Chemical => "chemical",
        Execution => "execution",
        TortureInDetention => "torture-in-detention",
        SiegeStarvation => "siege-starvation",
        DenialOfMedicalCare => "denial-of-medical-care",
        Other => "other",
        Unknown => "unknown",
    }
}

vocab! {
    pub enum CivilianStatus ("civilian status", hint: None) {
        Civilian => "civilian",
        Combatant => "combatant",
        Unknown => "unknown",
    }
}

vocab! {
    /// How sure the recording group is that the death happened as recorded.
    pub enum Confidence ("confidence level", hint: None) {
        Confirmed => "confirmed",
        Likely => "likely",
        Possible => "possible",
        /// The default: nothing has been checked yet.
        Unconfirmed => "unconfirmed",
    }
}

vocab! {
    /// How the person went missing.
    pub enum Circumstances ("circumstance", hint: Some("use `other` and describe it in `circumstances_detail`")) {
        /// Taken by state forces or their agents.
        Arrest => "arrest",
        /// Taken by a non-state group.
        Abduction => "abduction",
        Checkpoint => "checkpoint",
        /// Home or workplace raid.
        Raid => "raid",
        /// Went to answer a summons and did not return.
        Summons => "summons",
        /// Lost track of while already held, e.g. after a transfer.
        TransferInCustody => "transfer-in-custody",
        Conscription => "conscription",
        /// Lost during fighting or an attack.
        Hostilities => "hostilities",
        Displacement => "displacement",
        /// On a migration route, including at sea.
        Migration => "migration",
        Other => "other",
        Unknown => "unknown",
    }
}

vocab! {
    /// Where the missing person is now believed to be (HURIDOCS whereabouts).
    pub enum MissingStatus ("status", hint: None) {
        /// The default.
        Missing => "missing",
        DetainedAcknowledged => "detained-acknowledged",
        DetainedUnacknowledged => "detained-unacknowledged",
        Released => "released",
        FoundAlive => "found-alive",
        FoundDead => "found-dead",
        /// A death certificate or notice without a body (common for deaths in detention).
        DeathNotifiedWithoutRemains => "death-notified-without-remains",
    }
}

vocab! {
    pub enum SourceType ("source type", hint: Some("use `other` and say more in `reference`")) {
        Eyewitness => "eyewitness",
        Family => "family",
        /// Someone held in the same place.
        FellowDetainee => "fellow-detainee",
        Medical => "medical",
        Forensic => "forensic",
        Official => "official",
        Media => "media",
        SocialMedia => "social-media",
        Ngo => "ngo",
        /// Local committees, religious or community leaders.
        Community => "community",
        Other => "other",
    }
}

vocab! {
    /// HURIDOCS source reliability.
    pub enum Reliability ("reliability level", hint: None) {
        High => "high",
        Medium => "medium",
        Low => "low",
        Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Vocab + PartialEq + std::fmt::Debug>(all: &[T]) {
        assert_eq!(all.len(), T::TERMS.len());
        for (v, t) in all.iter().zip(T::TERMS) {
            assert_eq!(v.term(), *t);
            assert_eq!(T::from_term(t), Some(*v));
        }
    }

    #[test]
    fn every_term_round_trips() {
        round_trips(Sensitivity::ALL);
        round_trips(Sex::ALL);
        round_trips(AgeBand::ALL);
        round_trips(Cause::ALL);
        round_trips(CivilianStatus::ALL);
        round_trips(Confidence::ALL);
        round_trips(Circumstances::ALL);
        round_trips(MissingStatus::ALL);
        round_trips(SourceType::ALL);
        round_trips(Reliability::ALL);
    }

    #[test]
    fn terms_are_exact() {
        assert_eq!(Cause::from_term("Shelling"), None);
        assert_eq!(Cause::from_term("siege_starvation"), None);
    }
}
