# torchvision's segmentation FCN, torchvision.models.segmentation.fcn_resnet50, rebuilt
# from fcn_mm components so that its weights (converted by
# tools/model_converters/tvseg2fcnmm.py) predict what torchvision predicts:
# - backbone: torchvision's ResNet-50 with layer3/layer4 dilated (output stride 8);
#   TorchvisionBackbone keeps torchvision's module names (backbone.layer1.0.conv1 ...);
# - decode head: one 3x3 conv 2048 -> 512 without bias, BN, ReLU, dropout 0.1, 1x1 conv
#   to the classes (FCNHead with num_convs=1 and no concat); torchvision's dropout is
#   element-wise, fcn_mm's Dropout2d drops channels: equal in eval mode;
# - auxiliary head on layer3: 3x3 conv 1024 -> 256, BN, ReLU, dropout, 1x1 conv, with
#   the auxiliary loss weighted 0.5 as in torchvision's reference training script;
# - inputs: RGB with the ImageNet mean/std (in 0..255: MMSegmentation's values);
#   logits upsampled bilinearly (align_corners=False) to the input size, as torchvision.
# Training follows MMSegmentation's VOC recipe (fcn_r50-d8_480x480_voc.py), not
# torchvision's (COCO images of the 20 VOC classes, 30 epochs, lr 0.02, batch 32).
_base_ = './fcn_tv-r50-d8_480x480_voc.py'
model = dict(
    decode_head=dict(
        in_channels=2048, channels=512, num_convs=1, kernel_size=3,
        concat_input=False, dropout_ratio=0.1),
    auxiliary_head=dict(
        in_channels=1024, channels=256, num_convs=1, kernel_size=3,
        concat_input=False, dropout_ratio=0.1,
        loss_decode=dict(loss_weight=0.5)))
