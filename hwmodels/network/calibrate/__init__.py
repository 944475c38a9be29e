"""NCCL measurement harness (torch.distributed; runs on a multi-GPU machine) and the fit of
the collective model to its measurements."""
