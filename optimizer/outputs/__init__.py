"""Result tables and atomic writers."""
