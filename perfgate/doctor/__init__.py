"""``perfgate doctor``: is this machine fit to measure? Pure ``checks`` over facts the ``probes`` gather once."""
