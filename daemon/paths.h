/* Where brugd finds the files it ships with (web pages, compiled bundles):
 * the checkout for a brugd in its own build tree, else the installed data
 * directory, so that neither needs a path in the config. */
#ifndef BRUG_PATHS_H
#define BRUG_PATHS_H

#include <stdbool.h>

/* True if the running program is inside the build tree it was built in
 * (brugd from ninja, the unit tests), false if it was installed. */
bool paths_in_tree(void);
/* The default web root: the checkout's web-client/ in the tree, else
 * DATADIR/brug/web-client. Static storage, absolute. */
const char *paths_web_root(void);
/* The default compiled bundles (daemon/, client/ inside): the build tree's
 * locales/ in the tree, else DATADIR/brug/locales. Static storage. */
const char *paths_locales_dir(void);

#endif
