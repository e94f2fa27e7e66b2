/* vnode.h — rp-join --virtual NAME: a virtual kubelet.  A Node that no
 * machine backs; the Kubernetes pods bound to it run as RunPod pods.
 *
 * Promises:
 *  - The Node NAME reports itself as a kubelet does: registered when
 *    missing with the labels of kube.labels plus type=virtual-kubelet,
 *    kubernetes.io/role=agent and kubernetes.io/hostname=NAME, the taint
 *    virtual-kubelet.io/provider=runpod:NoSchedule, capacity and
 *    allocatable pods = runpod.max_nodes and nvidia.com/gpu =
 *    runpod.max_nodes x runpod.gpu_count; every pass its Lease
 *    kube-node-lease/NAME is renewed (holderIdentity NAME,
 *    leaseDurationSeconds kube.virtual_lease) and its status is sent with
 *    Ready True and a fresh heartbeat; labels or the taint found missing
 *    are put back.  A stopped rp-join --virtual stops both, so the node
 *    turns NotReady once the lease runs out.
 *  - The pods are those with spec.nodeName NAME.  DaemonSet and mirror
 *    pods are never run (no machine to put them on).  A pod runs as one
 *    RunPod pod launched through wave.h (ledger line first, candidates,
 *    failover, readiness, name "<cluster>-burst-<id>"), with its first
 *    and only container's image, command + args, env (literal values,
 *    secretKeyRef / configMapKeyRef / envFrom read through the API,
 *    fieldRef metadata.name|namespace|uid and spec.nodeName), TCP ports
 *    (22/tcp always added), GPUs from resources.limits["nvidia.com/gpu"]
 *    (else runpod.gpu_count), GPU type from the annotation rp.io/gpu-type
 *    (one of runpod.gpu_types) else the configured order.  A pod this
 *    cannot express (several containers, init containers, a missing
 *    secret, an unknown GPU type) stays Pending with the reason in its
 *    container's waiting state, and costs nothing.
 *  - Never launched twice: a pod's RunPod pod is found by its annotation
 *    rp.io/pod-id, else by the ledger (the `launching` / `launched` lines
 *    carry vnode, k8s_uid and k8s_pod); a live one is adopted.  The
 *    mapping is written as annotations (rp.io/pod-id, rp.io/runpod-name,
 *    rp.io/ssh) and as the ledger line `joined` (bootstrap "virtual",
 *    node NAME, k8s_uid) once the pod is ready.
 *  - Status is kept true (the status subresource, only when it changed):
 *    Pending while launching; Running with PodScheduled, Initialized,
 *    ContainersReady and Ready True, podIP/hostIP the RunPod pod's public
 *    address, the container running; a RunPod pod EXITED or ERROR (or gone)
 *    makes the pod Failed (reason Preempted when RunPod says Outbid, else
 *    RunPodExited / RunPodGone) and the RunPod pod is terminated (ledger
 *    `preempted` or `terminated`).
 *  - A pod with a deletionTimestamp, within its grace period: the worker
 *    stop (drainseq.h's rp_drain_worker_stop: drain.worker_stop_command
 *    over SSH, and when it exits 0 drain.worker_marker awaited for the
 *    grace, half of it when a hook follows), then the final checkpoint
 *    hook (drain.checkpoint_command, as rp-drain runs it, RP_NODE=NAME) in
 *    what is left of it; a stop or hook that fails is logged and the pod
 *    goes anyway; ledger `drained` (worker_marker), terminate confirmed
 *    (ledger `terminated`), and only then the pod object is deleted with
 *    grace 0 (uid precondition).  A terminate not confirmed leaves the pod
 *    Terminating; the next pass tries again.
 *  - With kube.virtual_kubelet_port set, the long-running node serves the
 *    kubelet API (vkubelet.h: kubectl logs), advertises it (InternalIP
 *    kube.virtual_kubelet_address, daemonEndpoints port), and runs each
 *    pod's command wrapped so its output is captured for it; a kubelet
 *    API that cannot start is exit 2.  The annotation rp.io/logs says
 *    what is served.
 *  - Only our pods are terminated: every terminate here first asks
 *    ledger.h's rp_ledger_ours() (its id and RunPod name); a pod it does
 *    not call ours (a Kubernetes pod annotated with a pod id our ledger
 *    never launched) is left alone with one error line (exit 3).
 *  - Nothing paid after the pod is gone: a RunPod pod the ledger ties to
 *    this node whose Kubernetes pod no longer exists is terminated.
 *  - Never on a guess: while the RunPod pod list or the node's pod list
 *    cannot be had, no pod is launched, changed or terminated (the pass
 *    returns 75; the heartbeat still goes out).
 */
#ifndef RP_VNODE_H
#define RP_VNODE_H
#include "config.h"

#define RP_VNODE_TAINT "virtual-kubelet.io/provider"
#define RP_VNODE_GPU_ANN "rp.io/gpu-type"

struct rp_vnode;

/* NULL + *err on a setup error (kubeconfig, API key, ssh public key, a
 * bad name): exit 2 material. */
struct rp_vnode *rp_vnode_new(struct rp_config *cfg, const char *name, char **err);
void rp_vnode_free(struct rp_vnode *v);
/* One reconcile pass: node and lease, then the pods.  RP_EXIT_*. */
int rp_vnode_pass(struct rp_vnode *v);
/* Passes every kube.virtual_interval until SIGTERM/SIGINT (once: one
 * pass).  The last pass's code, 0 after a signal. */
int rp_vnode_run(struct rp_vnode *v, int once);

#endif
