pub mod wsfed;
