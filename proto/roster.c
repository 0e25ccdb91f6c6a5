/* roster.c: placeholder until the roster codec lands. */
#include "stagger/doc.h"
