"""What INPUT names (file, folder, glob, video) and batched prediction."""
import os
import os.path as osp

import pytest

from fcn_mm.apis import inference_model, init_model
from fcn_mm.apis.batch_inference import find_inputs, predict_batch, segment_inputs
from inference_inputs import assert_same_labels, write_images, write_model, write_video


def test_find_inputs_for_a_file_a_folder_a_glob_and_a_video(tmp_path):
    images = write_images(tmp_path)
    found = find_inputs(images[1])
    assert (found.kind, found.paths, found.names) == ('images', [images[1]], ['img_1'])
    found = find_inputs(str(tmp_path))  # notes.txt is left out
    assert found.kind == 'images' and found.paths == sorted(images)
    assert found.names == ['img_0', 'img_1', 'img_2']
    (tmp_path / 'sub').mkdir()
    write_images(tmp_path / 'sub')
    found = find_inputs(str(tmp_path / '**' / 'img_[02].png'))
    assert found.names == ['img_0', 'img_2', osp.join('sub', 'img_0'), osp.join('sub', 'img_2')]
    video = write_video(tmp_path / 'clip.mp4')
    found = find_inputs(video)
    assert (found.kind, found.paths, found.names) == ('video', [video], ['clip'])


def test_find_inputs_errors_name_the_input(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'INPUT .*nope\.jpg: no such file or folder'):
        find_inputs(str(tmp_path / 'nope.jpg'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=r'no image files .* in the folder .*empty'):
        find_inputs(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match=r"no image files .* of '.*\*\.jpg'"):
        find_inputs(str(tmp_path / '*.jpg'))
    (tmp_path / 'a.txt').write_text('x')
    with pytest.raises(ValueError, match=r'a\.txt: not an image'):
        find_inputs(str(tmp_path / 'a.txt'))
    images = write_images(tmp_path / 'empty')
    os.link(images[0], str(tmp_path / 'empty' / 'img_0.jpg'))
    with pytest.raises(ValueError, match=r'img_0\.jpg and .*img_0\.png would write the same'):
        find_inputs(str(tmp_path / 'empty'))


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    config, checkpoint = write_model(tmp_path_factory.mktemp('model'))
    return init_model(config, checkpoint, device='cpu')


def test_predict_batch_keeps_order_and_sizes_and_matches_inference_model(model, tmp_path,
                                                                         one_thread):
    images = write_images(tmp_path)  # sizes (96, 128), (80, 112), (96, 128): two groups
    results = predict_batch(model, images)
    for path, result in zip(images, results):
        single = inference_model(model, path)
        assert result.pred_sem_seg.shape == single.pred_sem_seg.shape
        assert_same_labels(result.pred_sem_seg.data[0].numpy(), single)


def test_segment_inputs_checks_its_settings(model, tmp_path):
    with pytest.raises(ValueError, match='batch_size must be a positive integer, got 0'):
        segment_inputs(model, str(tmp_path), str(tmp_path / 'out'), batch_size=0)
    with pytest.raises(ValueError, match=r'opacity must be in \(0, 1\], got 0'):
        segment_inputs(model, str(tmp_path), str(tmp_path / 'out'), opacity=0)
    assert not osp.exists(tmp_path / 'out')
