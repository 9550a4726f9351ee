/* retention.c - being written */
