/* lock.c - being written */
