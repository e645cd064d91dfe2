# Owned by the executor work: real processes for the torus's actions.
