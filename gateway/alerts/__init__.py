"""Alert bulletins and their subscribers: fan-out to each area's subscribers (bulletins) and
the administrators' side of the list (subscribers). Imports db, mail, render and config;
imported by the pipeline's alerts stage, the SMTP door, the runtime and the CLI."""
