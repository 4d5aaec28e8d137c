/*  rt_bg.h - a background thread with a lock, a wake-up and a stop flag

    The timer and the outbox pump are both "sleep until due or woken, do a
    pass, repeat until stopped"; this is that skeleton once. The thread
    function runs with the lock held around its waits:

        pthread_mutex_lock (&bg->lock);
        while (!bg->stop) { ...; rt_bg_wait (bg, ms); }
        pthread_mutex_unlock (&bg->lock);
*/
#ifndef RT_BG_H_INCLUDED
#define RT_BG_H_INCLUDED
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    bool            running;
    bool            stop;       /* under lock */
} rt_bg_t;

void rt_bg_init (rt_bg_t *bg);
/*  Returns 0 or RT_ENOMEM. name (at most 15 characters) is the thread's
    name in top -H, perf and /proc: one per job, so an operator sees which
    one is busy. */
int  rt_bg_start (rt_bg_t *bg, void *(*fn) (void *), void *arg, const char *name);
/*  Set stop, wake the thread and join it; no-op if not running. */
void rt_bg_stop (rt_bg_t *bg);
/*  Wake the thread (takes the lock). */
void rt_bg_wake (rt_bg_t *bg);
/*  With the lock held: wait up to ms, or until woken. */
void rt_bg_wait (rt_bg_t *bg, int64_t ms);
/*  Stop if running and free the lock and condition. */
void rt_bg_fini (rt_bg_t *bg);

#endif
