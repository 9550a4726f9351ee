/* snapshot.c - being written */
