/* store_disk.c - being written */
