"""What data looks like: SQL tables, the column map, import objects, and pandera row schemas."""
