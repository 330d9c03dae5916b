// SPDX-License-Identifier: GPL-2.0
/*
 * drm_sched as the msm VM_BIND path uses it: one scheduler per user-managed VM with
 * credit_limit 1, so jobs run one at a time in push order; run_job() returns no fence, so
 * the job is done at once and free_job() follows, on the scheduler's own thread (the
 * kernel's submit_wq): never in the process that issued the ioctl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "msm_drv.h"

static void *drm_sched_main(void *arg)
{
	struct drm_gpu_scheduler *sched = arg;

	prctl(PR_SET_NAME, "msm-vm-bind", 0, 0, 0);
	pthread_mutex_lock(&sched->job_list_lock);
	for (;;) {
		struct drm_sched_job *job;

		while (list_empty(&sched->pending_list) && !sched->stopping)
			pthread_cond_wait(&sched->job_scheduled, &sched->job_list_lock);
		/* model fault: a hung scheduler (a GPU that stopped) until the VM is torn down */
		while (msm_model.sched_hang_at_ns && !sched->stopping &&
		       msm_model_now_ns() >= msm_model.sched_hang_at_ns) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&sched->job_scheduled, &sched->job_list_lock, &ts);
		}
		if (list_empty(&sched->pending_list))
			break;	/* stopping, and drained */
		job = container_of(sched->pending_list.next, struct drm_sched_job, list);
		list_del_init(&job->list);
		pthread_mutex_unlock(&sched->job_list_lock);

		sched->ops->run_job(job);
		sched->ops->free_job(job);

		pthread_mutex_lock(&sched->job_list_lock);
	}
	pthread_mutex_unlock(&sched->job_list_lock);
	return NULL;
}

int drm_sched_init(struct drm_gpu_scheduler *sched, const struct drm_sched_backend_ops *ops,
		   const char *name, unsigned int job_cost_us)
{
	sched->ops = ops;
	sched->name = name;
	sched->credit_limit = 1;
	sched->job_cost_us = job_cost_us;
	INIT_LIST_HEAD(&sched->pending_list);
	pthread_mutex_init(&sched->job_list_lock, NULL);
	pthread_cond_init(&sched->job_scheduled, NULL);
	return pthread_create(&sched->thread, NULL, drm_sched_main, sched) ? -EAGAIN : 0;
}

void drm_sched_job_init(struct drm_sched_job *job, struct drm_sched_entity *entity)
{
	INIT_LIST_HEAD(&job->list);
	job->entity = entity;
	job->credits = 1;
}

/* drm_sched_job_arm() + drm_sched_entity_push_job(): job->sched set means "pushed". */
void drm_sched_entity_push_job(struct drm_sched_job *job)
{
	struct drm_gpu_scheduler *sched = job->entity->rq_sched;

	job->sched = sched;
	pthread_mutex_lock(&sched->job_list_lock);
	job->id = ++sched->job_id_count;
	list_add_tail(&job->list, &sched->pending_list);
	pthread_cond_signal(&sched->job_scheduled);
	pthread_mutex_unlock(&sched->job_list_lock);
}

void drm_sched_fini(struct drm_gpu_scheduler *sched)
{
	pthread_mutex_lock(&sched->job_list_lock);
	sched->stopping = true;
	pthread_cond_signal(&sched->job_scheduled);
	pthread_mutex_unlock(&sched->job_list_lock);
	pthread_join(sched->thread, NULL);
}
