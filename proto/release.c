/* release.c: placeholder until the release codec lands. */
#include "stagger/doc.h"
