mod wsfed;
