//! A tenant's connection to its Microsoft 365 (Entra ID) tenant: the app registration Tessera
//! calls Microsoft Graph with, and what the last checks found. Aggregate id: the tenant id.

mod aggregate;
mod events;

pub use aggregate::{Microsoft365Command, Microsoft365Connection};
pub use events::{ConnectionCredential, ConnectionSettings, Finding, FindingReason, GraphFailure, Microsoft365Event, SubscribedSku};
