/* store.c - being written */
