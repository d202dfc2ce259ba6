//! The record of one sign-in attempt at the WS-Federation endpoint: who tried, from where, why it
//! failed, or which claims we sent to Microsoft. One aggregate per attempt (`{tenant}/{attempt}`),
//! written once, so recording never contends with anything else.

mod aggregate;

pub use aggregate::{ClientInfo, IssuedClaims, SIGN_IN_EVENT_VERSION, SignIn, SignInCommand, SignInDetails, SignInEvent, SignInFailure};
