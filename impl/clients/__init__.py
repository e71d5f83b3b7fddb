"""The users the series converts, as workloads with their own expectations."""
