/* catalog.c - being written */
