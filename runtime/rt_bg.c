/*  rt_bg.c - a background thread with a lock, a wake-up and a stop flag */
#define _GNU_SOURCE             /* pthread_setname_np */
#include "rt_bg.h"
#include "rt_error.h"
#include "rt_time.h"

void
rt_bg_init (rt_bg_t *bg)
{
    pthread_mutex_init (&bg->lock, NULL);
    pthread_cond_init (&bg->cv, NULL);
    bg->running = bg->stop = false;
}

int
rt_bg_start (rt_bg_t *bg, void *(*fn) (void *), void *arg, const char *name)
{
    if (pthread_create (&bg->thread, NULL, fn, arg))
        return RT_ENOMEM;
    pthread_setname_np (bg->thread, name);
    bg->running = true;
    return 0;
}

void
rt_bg_stop (rt_bg_t *bg)
{
    if (!bg->running)
        return;
    pthread_mutex_lock (&bg->lock);
    bg->stop = true;
    pthread_cond_signal (&bg->cv);
    pthread_mutex_unlock (&bg->lock);
    pthread_join (bg->thread, NULL);
    bg->running = false;
}

void
rt_bg_wake (rt_bg_t *bg)
{
    pthread_mutex_lock (&bg->lock);
    pthread_cond_signal (&bg->cv);
    pthread_mutex_unlock (&bg->lock);
}

void
rt_bg_wait (rt_bg_t *bg, int64_t ms)
{
    if (ms <= 0 || bg->stop)
        return;
    struct timespec ts = rt_deadline_in (ms);
    pthread_cond_timedwait (&bg->cv, &bg->lock, &ts);
}

void
rt_bg_fini (rt_bg_t *bg)
{
    rt_bg_stop (bg);
    pthread_mutex_destroy (&bg->lock);
    pthread_cond_destroy (&bg->cv);
}
