"""Design-space sweeps: many candidate networks, analysed fast, filtered by constraints."""
