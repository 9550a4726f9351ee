/* report.c - being written */
