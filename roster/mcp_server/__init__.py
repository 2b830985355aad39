"""Roster's MCP server: `roster mcp` (stdio) or `roster mcp --http PORT`."""
