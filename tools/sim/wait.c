// SPDX-License-Identifier: GPL-2.0
/*
 * kernel/sched/wait.c, the part wait_event_interruptible() uses, on futexes.
 *
 * prepare_to_wait_event() and finish_wait() are probed by the toolkit's fallback plan (when
 * vm_bind_prealloc_count is inlined), so they keep the kernel's names and arguments.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "linux_compat.h"

static __thread volatile sig_atomic_t sigpending_flag;
static __thread timer_t interrupt_timer;
static __thread bool interrupt_timer_ok;

static void sigusr1_handler(int sig)
{
	(void)sig;
	sigpending_flag = 1;
}

static void install_sigusr1(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigusr1_handler;	/* no SA_RESTART: a futex wait returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* Called once per thread that issues VM_BINDs: a per-thread timer to inject signals. */
int signal_init_thread(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sigevent sev;

	pthread_once(&once, install_sigusr1);

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &interrupt_timer))
		return -errno;
	interrupt_timer_ok = true;
	return 0;
}

void signal_fini_thread(void)
{
	if (interrupt_timer_ok)
		timer_delete(interrupt_timer);
	interrupt_timer_ok = false;
}

void signal_arm_interrupt(unsigned int delay_us)
{
	struct itimerspec its = { 0 };

	if (!interrupt_timer_ok)
		return;
	its.it_value.tv_sec = delay_us / 1000000;
	its.it_value.tv_nsec = (long)(delay_us % 1000000) * 1000 + 1;
	timer_settime(interrupt_timer, 0, &its, NULL);
}

void signal_disarm_interrupt(void)
{
	struct itimerspec its = { 0 };

	if (interrupt_timer_ok)
		timer_settime(interrupt_timer, 0, &its, NULL);
}

bool signal_pending_current(void)
{
	return sigpending_flag != 0;
}

void signal_deliver_current(void)
{
	sigpending_flag = 0;
}

void init_waitqueue_head(struct wait_queue_head *wq_head)
{
	INIT_LIST_HEAD(&wq_head->head);
	pthread_spin_init(&wq_head->lock, PTHREAD_PROCESS_PRIVATE);
}

void init_wait_entry(struct wait_queue_entry *wq_entry, int flags)
{
	wq_entry->flags = (unsigned int)flags;
	wq_entry->private = (void *)pthread_self();
	wq_entry->woken = 0;
	INIT_LIST_HEAD(&wq_entry->entry);
}

__probed long prepare_to_wait_event(struct wait_queue_head *wq_head,
				    struct wait_queue_entry *wq_entry, int state)
{
	long ret = 0;

	pthread_spin_lock(&wq_head->lock);
	if ((state & TASK_INTERRUPTIBLE) && signal_pending_current()) {
		/* As in the kernel: dequeue and report, so the caller skips finish_wait(). */
		list_del_init(&wq_entry->entry);
		ret = -ERESTARTSYS;
	} else {
		if (list_empty(&wq_entry->entry))
			list_add_tail(&wq_entry->entry, &wq_head->head);
		__atomic_store_n(&wq_entry->woken, 0, __ATOMIC_SEQ_CST);
	}
	pthread_spin_unlock(&wq_head->lock);
	return ret;
}

__probed void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)
{
	pthread_spin_lock(&wq_head->lock);
	if (!list_empty(&wq_entry->entry))
		list_del_init(&wq_entry->entry);
	pthread_spin_unlock(&wq_head->lock);
}

/* schedule() for a task in TASK_INTERRUPTIBLE: sleep until woken or signalled. */
void schedule_on(struct wait_queue_entry *wq_entry)
{
	while (!__atomic_load_n(&wq_entry->woken, __ATOMIC_SEQ_CST) && !signal_pending_current()) {
		long r = syscall(SYS_futex, &wq_entry->woken, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);

		if (r == -1 && errno == EINTR)
			break;
	}
}

/* wake_up(): TASK_NORMAL, nr_exclusive 1, but the throttle's waiters are all non-exclusive. */
void wake_up(struct wait_queue_head *wq_head)
{
	struct list_head *pos;

	pthread_spin_lock(&wq_head->lock);
	for (pos = wq_head->head.next; pos != &wq_head->head; pos = pos->next) {
		struct wait_queue_entry *e = container_of(pos, struct wait_queue_entry, entry);

		__atomic_store_n(&e->woken, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &e->woken, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
	pthread_spin_unlock(&wq_head->lock);
}
