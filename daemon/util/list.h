/* Intrusive doubly linked lists (circular, with a head node), after the
 * Linux kernel and Redis's adlist: O(1) unlink from anywhere, no allocation. */
#ifndef BRUG_UTIL_LIST_H
#define BRUG_UTIL_LIST_H

#include <stddef.h>
#include <stdbool.h>

struct list {
	struct list *prev, *next;
};

#define LIST_INIT_HEAD(name) { &(name), &(name) }
#define list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void list_init(struct list *l) { l->prev = l->next = l; }
static inline bool list_empty(const struct list *l) { return l->next == l; }
/* A node that was list_init()ed or removed is "unlinked". */
static inline bool list_linked(const struct list *n) { return n->next != n && n->next != NULL; }

static inline void list_insert_between(struct list *n, struct list *p, struct list *nx)
{
	n->prev = p; n->next = nx; p->next = n; nx->prev = n;
}
static inline void list_add_tail(struct list *head, struct list *n) { list_insert_between(n, head->prev, head); }
static inline void list_add_head(struct list *head, struct list *n) { list_insert_between(n, head, head->next); }
/* Insert n right after pos. */
static inline void list_add_after(struct list *pos, struct list *n) { list_insert_between(n, pos, pos->next); }
static inline void list_remove(struct list *n)
{
	if (n->next == NULL || n->next == n)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
/* Safe against removal of pos. */
#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
