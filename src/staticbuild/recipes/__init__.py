"""One module per component. Each defines `recipe = Recipe(...)`: what to build, never how."""
