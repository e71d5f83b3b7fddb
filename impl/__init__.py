"""The executable 2.6.25 memory manager."""
