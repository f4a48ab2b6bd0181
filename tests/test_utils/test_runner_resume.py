"""Real mmengine Runner checkpoints (fcn_mm's and MMSegmentation's) resume under
weights_only=True."""
import os
import os.path as osp

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from fcn_mm.datasets.demo_data import prepare_demo_data
from fcn_mm.apis.training import build_runner, setup_train_config
from fcn_mm.utils.safe_loading import load_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _TinyRegressor(BaseModel):
    """y = w . x + b, trained with MSE."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=((out - torch.stack(data_samples)) ** 2).mean())
        return out


class _TinyData(Dataset):
    """16 points of y = x0 + x1; its metainfo holds a numpy array, as palettes do."""

    metainfo = dict(classes=('a', 'b'), palette=np.array([[0, 0, 0], [255, 0, 0]]))

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 2, generator=gen)

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return dict(inputs=self.x[i], data_samples=self.x[i].sum(0, keepdim=True))


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_TinyRegressor(), work_dir=str(work_dir), default_scope='fcn_mm',
        train_dataloader=dict(dataset=_TinyData(), batch_size=4, num_workers=0,
                              sampler=dict(type='InfiniteSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=8,
                              by_epoch=False)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume, randomness=dict(seed=0), log_level='WARNING')


def test_runner_checkpoint_resumes_with_weights_only(tmp_path, registry_fallback_log):
    first = _runner(tmp_path, max_iters=4)
    first.train()
    ckpt = load_checkpoint_file(tmp_path / 'iter_4.pth')
    assert ckpt['meta']['iter'] == 4
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    np.testing.assert_array_equal(ckpt['meta']['dataset_meta']['palette'],
                                  _TinyData.metainfo['palette'])

    second = _runner(tmp_path, max_iters=6, resume=True)  # finds last_checkpoint
    second.load_or_resume()
    assert second.iter == 4
    for name, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[name], value), name
    momentum = second.optim_wrapper.optimizer.state_dict()['state']
    assert momentum, 'optimizer state (momentum buffers) was not resumed'
    resumed_step = second.param_schedulers[0].last_step
    assert resumed_step == first.param_schedulers[0].last_step
    hub_loss = second.message_hub.get_scalar('train/loss')
    assert len(hub_loss.data[0]) == 4  # the 4 logged losses came back
    second.train()
    assert second.iter == 6 and (tmp_path / 'iter_6.pth').is_file()
    assert registry_fallback_log == []


MMSEG_RUN = osp.join(osp.dirname(__file__), '..', 'data', 'mmseg_reference', 'runner_checkpoint')


def test_mmseg_runner_checkpoint_resumes_in_fcn_mm(tmp_path, registry_fallback_log):
    """``iter_2.pth`` of MMSegmentation 1.2.2's own tools/train.py (its config, with
    ``default_scope='fcn_mm'``) resumes: weights, SGD momentum, PolyLR step and message
    hub come back, and training continues to iteration 4."""
    ckpt_path = osp.join(MMSEG_RUN, 'iter_2.pth')
    ckpt = load_checkpoint_file(ckpt_path)
    assert ckpt['meta']['iter'] == 2 and "default_scope = 'mmseg'" in ckpt['meta']['cfg']
    os.symlink(osp.join(REPO, 'configs', '_base_'), tmp_path / '_base_')
    config = tmp_path / 'narrow_voc.py'
    with open(osp.join(MMSEG_RUN, 'narrow_voc_mmseg.py')) as f:
        config.write_text(f.read() + "\ndefault_scope = 'fcn_mm'\n")
    data_root = prepare_demo_data(str(tmp_path / 'voc'), num_train=4, num_val=2,
                                  image_size=64)
    options = {f'{split}_dataloader.dataset.data_root': data_root
               for split in ('train', 'val', 'test')}
    cfg = setup_train_config(str(config), cfg_options=options,
                             work_dir=str(tmp_path / 'work'), resume=ckpt_path)
    runner = build_runner(cfg)
    runner.load_or_resume()
    assert runner.iter == 2
    model_state = runner.model.state_dict()
    assert set(model_state) == set(ckpt['state_dict'])
    for name, value in ckpt['state_dict'].items():
        assert torch.equal(model_state[name], value), name
    resumed = runner.optim_wrapper.optimizer.state_dict()['state']
    saved = ckpt['optimizer']['state']
    assert resumed and set(resumed) == set(saved)
    for index, value in saved.items():
        assert torch.equal(resumed[index]['momentum_buffer'], value['momentum_buffer'])
    assert runner.param_schedulers[0].last_step == ckpt['param_schedulers'][0]['last_step']
    loss = runner.message_hub.get_scalar('train/loss')
    assert type(loss) is HistoryBuffer
    np.testing.assert_array_equal(
        loss.data[0], ckpt['message_hub']['log_scalars']['train/loss'].data[0])
    runner.train()
    assert runner.iter == 4
    assert load_checkpoint_file(tmp_path / 'work' / 'iter_4.pth')['meta']['iter'] == 4
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 4
    assert registry_fallback_log == []
