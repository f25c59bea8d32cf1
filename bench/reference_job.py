"""The worker's reference: RQ's own floor, a job that does nothing, run by the same SimpleWorker class."""


def noop(payload: object) -> None:
    return None
