# The corpus split (../shared/corpus), made once before any training or choice, that the
# training scripts source: arrays train, val and heldout of paths.
#   training (35 clips): everything not below;
#   validation (5 clips, every choice is made on these);
#   held out (8 clips, the README's comparison only).
C=${C:-../shared/corpus}
_split_train="vtest.avi Megamind.avi tree.avi dog.mp4 g1.avi g2.avi Principe_inertie.avi Force_constante.avi
  Effet_force_magnetique.ogv retroMars2018.avi anim-1.mov homer.avi alea.mpg blupi_history2.mkv blupi_play101.mkv
  blupi_play103.mkv blupi_play105.mkv blupi_play107.mkv blupi_play108.mkv blupi_play113.mkv blupi_play116.mkv
  blupi_play118.mkv blupi_play119.mkv blupi_play124.mkv blupi_win005.mkv lebiniou-2021-06-10_12-19-19.mp4
  lebiniou-2021-06-10_12-32-58.mp4 pampi_tour.mp4 kphotoalbum_movie.avi diver.mov tupi_example.avi visp_cube.mpeg
  ranger.webm birds.mp4 lego.asf"
_split_val="cup.mp4 pens.mp4 blupi_play110.mkv lebiniou-2021-06-10_12-24-29.mp4 vispy_cube.mp4"
_split_heldout="carphone_pristine.mp4 bikes.mp4 box.mp4 bigbuckbunny.mp4 balle-jbart.mp4 gnome-tetravex-video.ogv
  lebiniou-2021-06-10_12-28-28.mp4 blupi_win129.mkv"
train=(); for f in $_split_train; do train+=("$C/$f"); done
val=(); for f in $_split_val; do val+=("$C/$f"); done
heldout=(); for f in $_split_heldout; do heldout+=("$C/$f"); done
