# FCN R50-D8 on Pascal VOC 2012 + SBD with two losses on each head: cross entropy and a
# softmax Dice loss (the log shows decode.loss_ce, decode.loss_dice, aux.loss_ce and
# aux.loss_dice; their sum is back-propagated). The Dice weight follows MMSegmentation's
# multi-loss example (CE 1.0 + Dice 3.0); the auxiliary head keeps its 0.4 factor.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
             avg_non_ignore=False, loss_name='loss_ce'),
        dict(type='DiceLoss', use_sigmoid=False, loss_weight=3.0, loss_name='loss_dice')
    ]),
    auxiliary_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
             avg_non_ignore=False, loss_name='loss_ce'),
        dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.2, loss_name='loss_dice')
    ]))
