"""What every Roster process needs, whatever door started it: its settings (`settings`), its
PostgreSQL (`database`), the fault points the crash tests arm (`faults`), the lifeline that
makes `roster serve`'s processes die with it (`lifeline`), the thread PostgreSQL's NOTIFY
wakes (`listener`), and the cycle collector kept off the start-up of a process that runs one
import (`collector`)."""
