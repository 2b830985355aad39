"""What a caller from outside may reach or see, each guarded in one place: files on the server's
own disk (`allowed_paths`), addresses on the internet (`outside_fetch`: public ones only), and
the text of an error (`public_errors`: what happened, never how the server is built)."""
