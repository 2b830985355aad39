"""The store: every SQL statement Roster runs lives in this package, one module per family of
tables. Functions take an Engine or a Connection first, and every query names the caller's team
(or the one import it works on): no statement can reach another team's data."""
