"""Launcher environment mapping (no process group needed)."""
import pytest
from mmengine.config import Config

from fcn_mm.apis.distributed import dist_env_from_launcher, setup_distributed


def test_pytorch_launcher_reads_torchrun_variables():
    env = dist_env_from_launcher('pytorch', dict(
        RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', MASTER_ADDR='10.0.0.1',
        MASTER_PORT='1234'))
    assert env == dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', MASTER_ADDR='10.0.0.1',
                       MASTER_PORT='1234')


def test_pytorch_launcher_takes_local_rank_argument_and_port_variable():
    env = dist_env_from_launcher('pytorch', dict(RANK='0', WORLD_SIZE='2',
                                                 MASTER_ADDR='h', PORT='2999'),
                                 local_rank=1)
    assert env['LOCAL_RANK'] == '1' and env['MASTER_PORT'] == '2999'


def test_slurm_variables_map_to_torchrun_ones():
    env = dist_env_from_launcher('slurm', dict(
        SLURM_PROCID='5', SLURM_NTASKS='8', SLURM_LOCALID='1', MASTER_ADDR='node7'))
    assert env == dict(RANK='5', WORLD_SIZE='8', LOCAL_RANK='1', MASTER_ADDR='node7',
                       MASTER_PORT='29500')


def test_slurm_without_master_addr_or_scontrol_says_what_to_export(monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')
    with pytest.raises(KeyError, match='export MASTER_ADDR'):
        dist_env_from_launcher('slurm', dict(SLURM_PROCID='0', SLURM_NTASKS='2',
                                             SLURM_NODELIST='node[1-2]'))


def test_mpi_variables_map_and_single_node_defaults_to_localhost():
    env = dist_env_from_launcher('mpi', dict(
        OMPI_COMM_WORLD_RANK='1', OMPI_COMM_WORLD_SIZE='2',
        OMPI_COMM_WORLD_LOCAL_RANK='1', OMPI_COMM_WORLD_LOCAL_SIZE='2'))
    assert env == dict(RANK='1', WORLD_SIZE='2', LOCAL_RANK='1', MASTER_ADDR='127.0.0.1',
                       MASTER_PORT='29500')


def test_mpi_on_several_nodes_needs_master_addr():
    with pytest.raises(KeyError, match='MASTER_ADDR'):
        dist_env_from_launcher('mpi', dict(
            OMPI_COMM_WORLD_RANK='1', OMPI_COMM_WORLD_SIZE='4',
            OMPI_COMM_WORLD_LOCAL_RANK='1', OMPI_COMM_WORLD_LOCAL_SIZE='2'))


def test_missing_variable_names_it_and_the_launcher():
    with pytest.raises(KeyError, match='--launcher pytorch needs .*RANK'):
        dist_env_from_launcher('pytorch', {})


def test_unknown_launcher_is_rejected():
    with pytest.raises(ValueError, match="--launcher must be one of .*'srun'"):
        setup_distributed(Config(dict()), 'srun')


def test_launcher_none_sets_cfg_and_starts_nothing():
    cfg = Config(dict())
    assert setup_distributed(cfg, 'none') == (0, 1)
    assert cfg.launcher == 'none'
